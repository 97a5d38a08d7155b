// The machine-wide cache every clone shares (./lab's CACHE): built tools, port
// leases, the project's own Kubernetes cluster.
import * as os from "os";
import * as path from "path";

/** $FGL_CACHE, else <XDG cache>/flask-gevent-lab. */
export function cacheDir(): string {
    return process.env.FGL_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "flask-gevent-lab");
}
