// A loopback port leased to one service of one stack, for the stack's life,
// as a Node.js dynamic resource: so stacks, test suites and other clones on one
// machine never collide, and no stack needs a port in its config.
//
// create: pick a port in LEASE_RANGE that nothing listens on and no other lease
//   holds. A lease is a file created exclusively in a machine-wide folder, so
//   two concurrent ups, even from two clones, can't take the same port.
// diff: never a change: the port is kept until destroy.
// delete: release the lease.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { cacheDir } from "../lib/cache";
import { listeningNow, portFree } from "../lib/ports";

/** Below Linux's ephemeral range (32768-60999), so no client socket is ever handed a leased port. */
export const LEASE_RANGE = { first: 20000, last: 29999 };

export interface PortLeaseInputs {
    /** Who holds the lease (stack run folder and service): written into the lease file. */
    owner: string;
}

export interface PortLeaseState extends PortLeaseInputs {
    port: number;
}

/** The machine-wide folder of leases: beside the project's other caches, shared by every clone. */
export function leaseDir(): string {
    return path.join(cacheDir(), "port-leases");
}

/** Takes a free port for `owner`; throws when the whole range is taken. */
export async function leasePort(owner: string, dir = leaseDir()): Promise<number> {
    fs.mkdirSync(dir, { recursive: true });
    // A lease this owner took before its record was lost (an up killed mid-create, a cleared pending create): take it again.
    for (const file of fs.readdirSync(dir)) {
        const port = Number(file);
        if (Number.isInteger(port) && readOwner(path.join(dir, file)) === owner && await portFree("127.0.0.1", port)) return port;
    }
    const size = LEASE_RANGE.last - LEASE_RANGE.first + 1;
    const start = Math.floor(Math.random() * size);
    const busy = listeningNow();
    for (let i = 0; i < size; i++) {
        const port = LEASE_RANGE.first + ((start + i) % size);
        if (busy.has(port)) continue;
        const file = path.join(dir, String(port));
        try {
            fs.writeFileSync(file, `${owner}\n`, { flag: "wx" });
        } catch {
            continue; // another stack's lease
        }
        if (await portFree("127.0.0.1", port)) return port;
        fs.rmSync(file, { force: true });
    }
    throw new Error(`no free port left in ${LEASE_RANGE.first}-${LEASE_RANGE.last} (leases in ${dir}); ` +
        `destroy stacks you no longer use, or set the port in the stack's config`);
}

function readOwner(file: string): string | undefined {
    try {
        return fs.readFileSync(file, "utf8").trim();
    } catch {
        return undefined; // released meanwhile
    }
}

/** Gives the port back, if the lease is still this owner's. */
export function releasePort(port: number, owner: string, dir = leaseDir()): void {
    const file = path.join(dir, String(port));
    if (readOwner(file) === owner) fs.rmSync(file, { force: true });
}

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: PortLeaseInputs) {
        const port = await leasePort(inputs.owner);
        return { id: `port-${port}`, outs: { ...inputs, port } };
    },
    async diff() {
        return { changes: false };
    },
    async delete(_id: string, state: PortLeaseState) {
        releasePort(state.port, state.owner);
    },
};

/** A free loopback port, leased at the first up and released at destroy. */
export class PortLease extends pulumi.dynamic.Resource {
    declare readonly port: pulumi.Output<number>;

    constructor(name: string, args: { owner: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(provider, name, { ...args, port: undefined }, opts, "local", "PortLease");
    }
}
