// Command pause stands in for the Kubernetes pause image's /pause: it does nothing but hold the pod
// sandbox's namespaces, reaps the children it inherits (as PID 1 of a shared process namespace), and
// exits 0 on SIGINT or SIGTERM, like the official one.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
