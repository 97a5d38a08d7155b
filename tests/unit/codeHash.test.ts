import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { codeHash } from "../../lib/codeHash";

describe("code hash", () => {
    it("changes with a file's content, not with bytecode caches", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hash-"));
        fs.mkdirSync(path.join(dir, "app"));
        fs.writeFileSync(path.join(dir, "app", "app.py"), "print(1)\n");
        fs.writeFileSync(path.join(dir, "requirements.txt"), "flask==3.0.3\n");
        const paths = [path.join(dir, "app"), path.join(dir, "requirements.txt")];
        const first = codeHash(paths);
        assert.equal(codeHash(paths), first, "stable");
        fs.mkdirSync(path.join(dir, "app", "__pycache__"));
        fs.writeFileSync(path.join(dir, "app", "__pycache__", "app.cpython-311.pyc"), "x");
        assert.equal(codeHash(paths), first, "bytecode is not code");
        fs.writeFileSync(path.join(dir, "app", "app.py"), "print(2)\n");
        const edited = codeHash(paths);
        assert.notEqual(edited, first, "an edit changes it");
        fs.writeFileSync(path.join(dir, "requirements.txt"), "flask==3.0.4\n");
        assert.notEqual(codeHash(paths), edited, "requirements count");
        assert.notEqual(codeHash(paths, ["venv-a"]), codeHash(paths, ["venv-b"]), "the runtime's identity counts");
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
