// The machine-wide cache every clone shares (./lab's CACHE): built tools, port
// leases, the project's own Kubernetes cluster.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** $FGL_CACHE, else <XDG cache>/flask-gevent-lab. */
export function cacheDir(): string {
    return process.env.FGL_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "flask-gevent-lab");
}

/**
 * The files of the project's own cluster (scripts/cluster.sh): its admin kubeconfig, and the
 * kubectl built with it ("" while the cluster is down: it records its binaries' folder when up).
 */
export function projectCluster(): { kubeconfig: string; kubectl: string } {
    const dir = path.join(cacheDir(), "cluster");
    let bin = "";
    try {
        bin = fs.readFileSync(path.join(dir, "run", "k8s-bin"), "utf8").trim();
    } catch {
        // Down.
    }
    return { kubeconfig: path.join(dir, "kubeconfig"), kubectl: bin && path.join(bin, "kubectl") };
}
