package schedule

import "fmt"

// Kind is what an Action does.
type Kind uint8

// The action kinds. B is the input-gradient backward, W the weight-gradient backward.
const (
	F Kind = iota
	B
	W
	SendF
	RecvF
	SendB
	RecvB
	Step
	numKinds
)

var kindNames = [numKinds]string{"F", "B", "W", "SendF", "RecvF", "SendB", "RecvB", "Step"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// IsCompute reports whether k occupies the rank for a cost (F, B, W, Step).
func (k Kind) IsCompute() bool { return k == F || k == B || k == W || k == Step }

// Action is one entry of a rank's action list.
//
// Chunk is the virtual stage index on that rank (stage = Chunk·P + Rank). For a send, the
// chunk and micro-batch are those of the producing stage; for a receive, those of the consuming
// stage. Step has Chunk = −1 and MB = −1.
type Action struct {
	Rank  int
	Chunk int
	Kind  Kind
	MB    int
}

// Stage is the global stage index of a on a pipeline of p ranks (−1 for Step).
func (a Action) Stage(p int) int {
	if a.Kind == Step {
		return -1
	}
	return a.Chunk*p + a.Rank
}

// Peer is the rank a send goes to or a receive comes from on a pipeline of p ranks; −1 for
// compute actions.
func (a Action) Peer(p int) int {
	switch a.Kind {
	case SendF, RecvB:
		return (a.Rank + 1) % p
	case RecvF, SendB:
		return (a.Rank - 1 + p) % p
	}
	return -1
}

func (a Action) String() string {
	if a.Kind == Step {
		return fmt.Sprintf("Step[r%d]", a.Rank)
	}
	return fmt.Sprintf("%s[r%d c%d mb%d]", a.Kind, a.Rank, a.Chunk, a.MB)
}
