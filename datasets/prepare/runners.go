package prepare

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	// The runners --runner selects; each registers itself with beam.Run.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"
)

// RunnerFlagNames are Beam's own flags (Go flag package, names as Beam spells them) that the
// CLI passes through to the runners: job service and environment for universal/flink/spark,
// project, region, locations and workers for Dataflow. Any other Beam flag can be set with
// SetRunnerOption.
var RunnerFlagNames = []string{
	"endpoint",                 // job service host:port (universal, flink, spark); prism starts its own
	"environment_type",         // DOCKER (default for remote), PROCESS, EXTERNAL, LOOPBACK
	"environment_config",       // container image for DOCKER, command for PROCESS, address for EXTERNAL
	"worker_binary",            // the linux/amd64 glmflow binary workers run (CGO_ENABLED=0 build)
	"job_name",                 // job name on the runner
	"parallelism",              // Flink parallelism
	"experiments",              // comma-separated Beam experiments
	"async",                    // submit and return without waiting
	"project",                  // Dataflow: GCP project
	"region",                   // Dataflow: GCP region
	"temp_location",            // Dataflow: gs:// temp folder
	"staging_location",         // Dataflow: gs:// staging folder for the worker binary
	"sdk_container_image",      // Dataflow: worker container image
	"num_workers",              // Dataflow: initial workers
	"max_num_workers",          // Dataflow: autoscaling bound
	"worker_machine_type",      // Dataflow: GCE machine type
	"service_account_email",    // Dataflow: worker service account
	"network",                  // Dataflow: VPC network
	"subnetwork",               // Dataflow: VPC subnetwork
	"dataflow_service_options", // Dataflow: service options
}

// RunnerFlags returns Beam's flags named in RunnerFlagNames. Setting one (the CLI binds them
// with pflag's AddGoFlag) sets Beam's process-wide option.
func RunnerFlags() []*flag.Flag {
	out := make([]*flag.Flag, 0, len(RunnerFlagNames))
	for _, n := range RunnerFlagNames {
		if f := flag.CommandLine.Lookup(n); f != nil {
			out = append(out, f)
		}
	}
	return out
}

// workerFlags are the harness's own flags: never settable as runner options.
var workerFlags = []string{"worker", "id", "logging_endpoint", "control_endpoint", "semi_persist_dir", "options"}

// SetRunnerOption sets any Beam flag by name ("key=value" as Beam documents it).
func SetRunnerOption(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	k = strings.TrimLeft(k, "-")
	if !ok || k == "" {
		return fmt.Errorf("runner option %q: want name=value", kv)
	}
	if slices.Contains(workerFlags, k) || flag.CommandLine.Lookup(k) == nil {
		return fmt.Errorf("runner option %q: Beam has no option %q", kv, k)
	}
	if err := flag.CommandLine.Set(k, v); err != nil {
		return fmt.Errorf("runner option %q: %w", kv, err)
	}
	return nil
}

// IsWorker reports whether args (os.Args[1:]) are a Beam worker invocation: remote runners
// start the job's binary with --worker=true and the harness endpoints.
func IsWorker(args []string) bool {
	for _, a := range args {
		switch a {
		case "--worker", "-worker", "--worker=true", "-worker=true":
			return true
		}
	}
	return false
}

// RunWorker parses args as Beam's flags and runs the SDK harness; it does not return (the
// harness exits the process when the runner is done with the worker).
func RunWorker(args []string) {
	if err := flag.CommandLine.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, "glmflow worker:", err)
		os.Exit(2)
	}
	beam.Init()
	os.Exit(0)
}
