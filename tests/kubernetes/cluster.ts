// The Kubernetes suite's cluster: the project's own (scripts/cluster.sh),
// started for the suite unless it already runs, and then stopped again.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { resolveCluster } from "../../platforms/kubernetes";
import { ROOT } from "../local/stack";

const CLUSTER = path.join(ROOT, "scripts", "cluster.sh");

export function clusterRunning(): boolean {
    return spawnSync(CLUSTER, ["status"], { stdio: "ignore" }).status === 0;
}

/** Starts the project's cluster if it isn't running; returns whether this call started it. */
export function startCluster(): boolean {
    if (clusterRunning()) return false;
    // A first start builds Kubernetes from source (scripts/kubernetes.sh: ~12 min cold on 2 cores).
    execFileSync(CLUSTER, ["up"], { stdio: ["ignore", "ignore", "inherit"], timeout: 40 * 60_000 });
    return true;
}

export function stopCluster(): void {
    execFileSync(CLUSTER, ["down"], { stdio: ["ignore", "ignore", "inherit"], timeout: 5 * 60_000 });
}

/** kubectl against the project's cluster; its stdout. */
export function kubectl(...args: string[]): string {
    const own = resolveCluster("");
    return execFileSync(own.kubectl, ["--kubeconfig", own.kubeconfig, ...args], { encoding: "utf8", timeout: 60_000 });
}

/** The pids on this machine (the cluster's node) of the processes of the first app-named pod's container. */
export function containerPids(namespace: string, app: string): number[] {
    const id = kubectl("get", "pods", "-n", namespace, "-l", `app.kubernetes.io/name=${app}`, "-o", "jsonpath={.items[0].status.containerStatuses[0].containerID}")
        .replace(/^\w+:\/\//, "").trim();
    if (!id) throw new Error(`no running container for ${namespace}/${app}`);
    return fs.readdirSync("/proc").filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
        try {
            return fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(id);
        } catch {
            return false; // ended meanwhile
        }
    }).map(Number);
}

/** What a stopped cluster must not leave behind: its processes, mounts, iptables chains and rules, interfaces, routes, nodes' namespaces and cgroups. */
export function clusterTraces(): string[] {
    const traces: string[] = [];
    const cache = path.dirname(resolveCluster("").kubeconfig);
    const ps = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
    for (const line of ps.split("\n")) {
        // A zombie is gone but for its entry (here nothing reaps what is reparented to pid 1).
        if (line.includes("<defunct>")) continue;
        // Its containerd's shims name its socket, under the cache; another containerd's (Docker's) are not the cluster's.
        if (/\b(kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|etcd)\b/.test(line) || line.includes(cache)) {
            traces.push(`process: ${line.trim()}`);
        }
    }
    for (const line of execFileSync("cat", ["/proc/self/mounts"], { encoding: "utf8" }).split("\n")) {
        if (line.includes(cache) || line.includes("/run/netns/cni-")) traces.push(`mount: ${line}`);
    }
    for (const table of ["filter", "nat", "mangle"]) {
        const rules = spawnSync("iptables-save", ["-t", table], { encoding: "utf8" }).stdout ?? "";
        for (const line of rules.split("\n")) {
            if (/KUBE-|CNI-|FGL-|10\.21[34]\.|fgl0/.test(line)) traces.push(`iptables ${table}: ${line}`);
        }
    }
    const links = execFileSync("ip", ["-o", "link"], { encoding: "utf8" });
    for (const line of links.split("\n")) {
        if (/\bfgl0\b|master fgl0|\bfgln\d+/.test(line)) traces.push(`interface: ${line.split(":").slice(1, 2).join("").trim()}`);
    }
    // The further nodes' routes, network namespaces and cgroups.
    for (const route of execFileSync("ip", ["-4", "route"], { encoding: "utf8" }).split("\n")) {
        if (/10\.21[234]\./.test(route)) traces.push(`route: ${route}`);
    }
    for (const ns of fs.existsSync("/run/netns") ? fs.readdirSync("/run/netns") : []) {
        if (ns.startsWith("fgl-node-")) traces.push(`network namespace: ${ns}`);
    }
    for (const hierarchy of fs.readdirSync("/sys/fs/cgroup")) {
        const dir = path.join("/sys/fs/cgroup", hierarchy);
        if (!fs.statSync(dir).isDirectory()) continue;
        for (const cgroup of fs.readdirSync(dir).filter((c) => c.startsWith("fgl-node-"))) traces.push(`cgroup: ${path.join(dir, cgroup)}`);
    }
    return traces;
}
