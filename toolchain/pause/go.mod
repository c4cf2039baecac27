// The pod sandbox's pause process for the real-node testbed (no container registry here serves the
// official pause image): holds the pod's namespaces, reaps children, exits 0 on SIGINT or SIGTERM.
module mlflow-platform/toolchain/pause

go 1.24
