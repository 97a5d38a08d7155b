import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { listScenarios, listStacks } from "../../lib/stacks";

describe("which stack files are the project's stacks", () => {
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "fgl-stacks-"));
        // Committed ones, and what an interrupted test, matrix run or sweep leaves beside them.
        for (const stack of ["dev", "devserver", "uwsgi-gevent", "e2e-find-devserver", "matrix-devserver", "sweep-uwsgi-gevent"]) {
            fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "config: {}\n");
        }
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: flask-gevent-lab\n");
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("counts the committed stack files only, dev among the stacks but not among the scenarios", () => {
        assert.deepEqual(listStacks(dir), ["dev", "devserver", "uwsgi-gevent"]);
        assert.deepEqual(listScenarios(dir), ["devserver", "uwsgi-gevent"]);
    });
});
