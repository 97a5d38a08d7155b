// Command pulumi-language-nodejs is a minimal Pulumi language host for
// Node.js programs.
//
// The upstream host is a nested Go module that the Go module proxy reachable
// here does not serve, so the project carries this small host of its own,
// built against the pinned github.com/pulumi/pulumi/sdk/v3. It does what
// `pulumi up`, `preview`, `destroy` and the Automation API need: it reports
// no plugins to download (the project only uses the engine's built-in
// Node.js dynamic providers) and runs the program through the SDK's own
// `@pulumi/pulumi/cmd/run` entry point, TypeScript included.
//
// An engine killed with SIGKILL can't stop its plugins nor release its lock on
// the stack: this host exits once the engine is gone, the program it runs dies
// with it, and a dead engine's lock in a file backend is released
// (`pulumi-language-nodejs -release-locks-of <pid>` does that alone, for the
// dynamic-provider plugin).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc"
	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is stamped at build time with the SDK version it was built against.
var version = "v0.0.0-dev"

// exitCodeAlreadyReported is the exit code with which @pulumi/pulumi's runner
// says it has already shown the user an actionable error.
const exitCodeAlreadyReported = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-release-locks-of" {
		if pid, err := strconv.Atoi(os.Args[2]); err == nil {
			releaseLocksOf(pid)
		}
		return
	}
	// The engine passes its own address as the last argument; flags before it
	// (-tracing, -root, ...) carry nothing this host needs.
	engineAddress := ""
	if len(os.Args) > 1 {
		engineAddress = os.Args[len(os.Args)-1]
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &host{engineAddress: engineAddress})
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start the RPC server: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	exitWhenEngineGone(engineAddress)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: RPC server stopped: %v\n", err)
		os.Exit(1)
	}
}

// exitWhenEngineGone ends the host once the engine that started it is gone. Its
// death re-parents the host (seen within half a second; its lock is released
// then); an engine whose
// process lingers but no longer answers fails the health check that upstream
// plugins make (rpcutil.Healthcheck), here every 5 s instead of 5 min.
func exitWhenEngineGone(engineAddress string) {
	gone := func(why string) {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %s; exiting\n", why)
		os.Exit(1)
	}
	parent := os.Getppid()
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != parent {
				releaseLocksOf(parent)
				gone("the engine process is gone")
			}
		}
	}()
	if engineAddress == "" {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Second, cancel); err != nil {
		return
	}
	go func() {
		<-ctx.Done()
		gone("the engine stopped answering")
	}()
}

func (h *host) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) GetProgramDependencies(context.Context, *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: node, Version: string(out)}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := info.GetProgramDirectory()
	if programDir == "" {
		programDir = req.GetPwd()
	}
	runner, err := findRunner(programDir)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	args := []string{runner}
	addFlag := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	addFlag("monitor", req.GetMonitorAddress())
	addFlag("engine", h.engineAddress)
	addFlag("organization", req.GetOrganization())
	addFlag("project", req.GetProject())
	addFlag("stack", req.GetStack())
	addFlag("pwd", req.GetPwd())
	addFlag("root-directory", info.GetRootDirectory())
	addFlag("parallel", fmt.Sprint(req.GetParallel()))
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	// Empty, not null: the SDK parses both variables unconditionally.
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON),
		"PULUMI_NODEJS_TYPESCRIPT="+fmt.Sprint(typescriptEnabled(info)),
	)

	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	// The program dies with the host. Linux sends the signal when the thread
	// that started the child exits: keep this goroutine on its thread until then.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitCodeAlreadyReported {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// findRunner locates @pulumi/pulumi/cmd/run in the node_modules folders at or
// above the program directory, as Node's own resolution would.
func findRunner(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		candidate := filepath.Join(d, "node_modules", "@pulumi", "pulumi", "cmd", "run")
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("@pulumi/pulumi is not installed for %s: run `npm ci` in the project folder", dir)
		}
	}
}

// typescriptEnabled honours Pulumi.yaml's `runtime.options.typescript`, on by default.
func typescriptEnabled(info *pulumirpc.ProgramInfo) bool {
	if opt, ok := info.GetOptions().GetFields()["typescript"]; ok {
		return opt.GetBoolValue()
	}
	return true
}
