/**
 * The engine harness's own promise about CRD sets, which the other engine tests build on: installCrds
 * returns an API that serves (not merely an Established CRD), and removeCrds right after it is prompt.
 *
 * Found in CI: a CRD is Established before its storage serves; for a moment a list gets 429 "storage is
 * (re)initializing" while the watch cache fills. A CRD deleted in that moment waits on its cleanup
 * finalizer, whose retries back off exponentially: the single sign-on suite's removal of the KServe CRDs
 * the serving suite had just reinstalled timed out after 60 s.
 */
import assert from "node:assert/strict";
import { sharedCluster, type Cluster, type CrdSpec } from "../../testbed/cluster";
import { CRD_SETS } from "../../testbed/toolchain";

describe("engine harness: CRD sets on the real API server", function () {
  let cluster: Cluster;

  before(async function () {
    this.timeout(80 * 60_000); // a cold toolchain build
    cluster = await sharedCluster();
  });

  for (const set of CRD_SETS) {
    it(`${set}: installCrds returns when every served version lists (HTTP 200 at once), and removeCrds right after takes under 30 s`, async () => {
      const names = await cluster.installCrds(set);
      assert.ok(names.length > 0, `${set} has CRDs`);
      const statuses: string[] = [];
      for (const name of names) {
        const crd = await cluster.kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", undefined, name);
        const spec = crd?.spec as CrdSpec;
        for (const v of spec.versions.filter((x) => x.served)) {
          const r = await cluster.kube.request("GET", `/apis/${spec.group}/${v.name}/${spec.names.plural}`);
          statuses.push(`${spec.names.plural}.${spec.group}/${v.name} ${r.status}`);
        }
      }
      assert.deepEqual(statuses.filter((s) => !s.endsWith(" 200")), [], "every served version lists at once");
      const t0 = Date.now();
      await cluster.removeCrds(set);
      const seconds = (Date.now() - t0) / 1000;
      assert.ok(seconds < 30, `removeCrds(${set}) took ${seconds.toFixed(1)} s`);
      const left = (await cluster.kube.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")).filter((c) => names.includes(c.metadata.name));
      assert.deepEqual(left.map((c) => c.metadata.name), []);
    });
  }
});
