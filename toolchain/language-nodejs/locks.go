package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// releaseLocksOf removes the locks that the engine process pid of this host
// holds in the file backend named by PULUMI_BACKEND_URL. An engine releases its
// lock when it exits, not when it is killed, and the stack's next up or destroy
// would then stop at "the stack is currently locked". Only called once that
// engine is known to be gone; other backends are left alone.
func releaseLocksOf(pid int) {
	dir := fileBackendDir(os.Getenv("PULUMI_BACKEND_URL"))
	hostname, err := os.Hostname()
	if dir == "" || err != nil {
		return
	}
	// <backend>/.pulumi/locks/<org>/<project>/<stack>/<id>.json: {"pid": ..., "hostname": ...}
	_ = filepath.WalkDir(filepath.Join(dir, ".pulumi", "locks"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return nil
		}
		var lock struct {
			Pid      int    `json:"pid"`
			Hostname string `json:"hostname"`
		}
		text, err := os.ReadFile(path)
		if err != nil || json.Unmarshal(text, &lock) != nil || lock.Pid != pid || lock.Hostname != hostname {
			return nil
		}
		// Nothing is printed: the dead engine's end of stderr is closed.
		if os.Remove(path) == nil {
			_ = os.Remove(path + ".attrs") // the blob store's metadata beside it
		}
		return nil
	})
}

// fileBackendDir is the folder of a file:// backend URL (file:///abs,
// file://~/dir, file://rel), or "" for any other URL.
func fileBackendDir(url string) string {
	rest, ok := strings.CutPrefix(url, "file://")
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "?")
	if home, err := os.UserHomeDir(); err == nil && (rest == "~" || strings.HasPrefix(rest, "~/")) {
		rest = filepath.Join(home, rest[1:])
	}
	abs, err := filepath.Abs(rest)
	if err != nil {
		return ""
	}
	return abs
}
