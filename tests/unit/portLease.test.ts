import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { LEASE_RANGE, leasePort, releasePort } from "../../providers/portLease";

describe("port leases", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "leases-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("gives each owner its own free port in the range, and the same one again after a lost record", async () => {
        const a = await leasePort("/run/a/app", dir);
        const b = await leasePort("/run/a/api", dir);
        assert.notEqual(a, b);
        for (const p of [a, b]) assert.ok(p >= LEASE_RANGE.first && p <= LEASE_RANGE.last);
        assert.equal(fs.readFileSync(path.join(dir, String(a)), "utf8").trim(), "/run/a/app");
        assert.equal(await leasePort("/run/a/app", dir), a, "an owner whose state lost its lease gets it back");
    });

    it("releases only its own lease", async () => {
        const a = await leasePort("/run/a/app", dir);
        releasePort(a, "/run/b/app", dir);
        assert.ok(fs.existsSync(path.join(dir, String(a))), "another owner can't release it");
        releasePort(a, "/run/a/app", dir);
        assert.ok(!fs.existsSync(path.join(dir, String(a))));
    });

    it("does not hand out a port something listens on, even the owner's own", async () => {
        const a = await leasePort("/run/a/app", dir);
        const blocker = net.createServer();
        await new Promise<void>((r) => blocker.listen(a, "127.0.0.1", r));
        try {
            assert.notEqual(await leasePort("/run/a/app", dir), a);
        } finally {
            blocker.close();
        }
    });
});
