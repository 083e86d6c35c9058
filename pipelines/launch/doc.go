// Package launch starts the ranks of a multi-process job on this machine: N child processes
// of the same binary, each told its rank, the world size and the master address, with their
// output prefixed by rank. The first rank to fail stops the others (SIGTERM, then SIGKILL
// after a grace period), and children are tied to the launcher's life (Linux: parent-death
// signal), so neither a failure nor a killed launcher leaves orphan processes.
//
// Non-goals: multi-node launching (use a cluster scheduler and `glmflow run --rank R --world N
// --master ADDR` on each node), restarts.
package launch
