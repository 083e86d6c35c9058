// Package transport moves tensors between pipeline ranks and reduces scalars across them.
//
// A Transport is one rank's end of a group of World ranks. Messages are point to point and
// matched by (sender, Tag): Tag names what travels (activations forward or gradients back,
// the model chunk, the micro-batch), so a receiver may ask for messages in any order and
// early arrivals wait in an inbox. Send never blocks on the receiver (buffered sends,
// blocking receives: the semantics the schedule simulator assumes). AllReduce sums float64
// vectors in rank order, so every rank gets the same bits whatever the arrival order.
//
// Two implementations:
//
//   - InProc: ranks are goroutines of one process; tensors are passed by reference (zero
//     copy; a sender must not modify a tensor after sending it).
//   - TCP: ranks are processes; a full mesh of loopback or LAN connections set up through a
//     rendezvous at rank 0's master address, with a small framed binary protocol (frame.go)
//     whose sizes are validated before anything is allocated.
//
// Failure: Abort(err) sends the error to every rank; a lost connection fails the transport.
// After a failure every pending and future Recv/AllReduce returns an error naming the rank
// where it started, so one error anywhere stops all ranks without hanging.
//
// Non-goals: collectives other than the scalar all-reduce (tensor-parallel and data-parallel
// gradient reduction over NCCL belong to the CUDA transport), encryption, authentication
// beyond a shared job token.
package transport
