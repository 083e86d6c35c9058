package chat

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; every error Render and RenderText return wraps one of them (errors.Is) and
// names the conversation's source file and row, the message and the part.
var (
	ErrEmpty        = errors.New("empty conversation")
	ErrNotAssistant = errors.New("last message is not from the assistant (nothing to train)")
	ErrRole         = errors.New("unknown role")
	ErrPart         = errors.New("bad part")
	ErrImageRef     = errors.New("bad image reference")
	ErrGrid         = errors.New("bad image grid")
	ErrReservedText = errors.New("text contains a reserved template token")
	ErrStructure    = errors.New("conversation shape not supported by the convention")
	ErrMissingToken = errors.New("token missing from the tokenizer")
	ErrEncoder      = errors.New("encoder")
)

// where formats the location prefix of an error.
func where(src Source, msg, part int) string {
	var b strings.Builder
	b.WriteString("chat: ")
	if src.File != "" {
		fmt.Fprintf(&b, "%s row %d: ", src.File, src.Row)
	}
	if msg >= 0 {
		fmt.Fprintf(&b, "message %d: ", msg)
	}
	if part >= 0 {
		fmt.Fprintf(&b, "part %d: ", part)
	}
	return b.String()
}

func errAt(src Source, msg, part int, kind error, format string, args ...any) error {
	return fmt.Errorf("%s%w: %s", where(src, msg, part), kind, fmt.Sprintf(format, args...))
}

// reservedTokens are the template's structural tokens; text that contains one would be split
// into that token by the tokenizer and corrupt the turn structure (and the loss mask), so it is
// refused. Markers the model may legitimately write (<think>, <|begin_of_box|>, /nothink,
// <tool_call>…) are allowed.
func reservedTokens(o Options) []string {
	return []string{
		tokGMASK, tokSOP, tokSystem, tokUser, tokAssistant, tokObservation, tokEOS,
		o.ImageStart, o.ImageToken, o.ImageEnd,
	}
}

// imageTokens returns t·h·w / MergeSize² for a valid grid.
func imageTokens(src Source, img int, g [3]int, merge int) (int, error) {
	t, h, w := g[0], g[1], g[2]
	if t < 1 || h < 1 || w < 1 {
		return 0, errAt(src, -1, -1, ErrGrid, "image %d grid (t,h,w)=(%d,%d,%d): sizes must be positive", img, t, h, w)
	}
	if h%merge != 0 || w%merge != 0 {
		return 0, errAt(src, -1, -1, ErrGrid, "image %d grid (t,h,w)=(%d,%d,%d): h and w must be multiples of MergeSize %d (t·h·w divisible by %d)", img, t, h, w, merge, merge*merge)
	}
	hm, wm := h/merge, w/merge
	if t > MaxImageTokens || hm > MaxImageTokens || wm > MaxImageTokens || t*hm > MaxImageTokens/wm {
		return 0, errAt(src, -1, -1, ErrGrid, "image %d grid (t,h,w)=(%d,%d,%d): more than MaxImageTokens=%d tokens", img, t, h, w, MaxImageTokens)
	}
	return t * hm * wm, nil
}

// check validates conv and grids against o (already resolved and valid) and returns the token
// count of each image.
func check(conv Conversation, grids [][3]int, o Options) ([]int, error) {
	src := conv.Source
	if len(conv.Messages) == 0 {
		return nil, errAt(src, -1, -1, ErrEmpty, "no messages")
	}
	if len(grids) != len(conv.Images) {
		return nil, errAt(src, -1, -1, ErrGrid, "got %d grids for %d images", len(grids), len(conv.Images))
	}
	counts := make([]int, len(grids))
	for i, g := range grids {
		n, err := imageTokens(src, i, g, o.MergeSize)
		if err != nil {
			return nil, err
		}
		counts[i] = n
	}
	reserved := reservedTokens(o)
	next := 0 // image index the next image part must reference
	for mi, m := range conv.Messages {
		switch m.Role {
		case System, User, Assistant, Observation:
		default:
			return nil, errAt(src, mi, -1, ErrRole, "%q (want system, user, assistant or observation)", string(m.Role))
		}
		if m.Reasoning != "" && m.Role != Assistant {
			return nil, errAt(src, mi, -1, ErrPart, "%s message has Reasoning; only assistant messages may", m.Role)
		}
		if err := checkReserved(src, mi, -1, m.Reasoning, reserved); err != nil {
			return nil, err
		}
		for pi, p := range m.Parts {
			switch p.Kind {
			case TextPart:
				if err := checkReserved(src, mi, pi, p.Text, reserved); err != nil {
					return nil, err
				}
			case ImagePart:
				if m.Role != User && m.Role != Observation {
					return nil, errAt(src, mi, pi, ErrPart, "image in a message of role %s (images belong to user or observation messages)", m.Role)
				}
				if p.Image < 0 || p.Image >= len(conv.Images) {
					return nil, errAt(src, mi, pi, ErrImageRef, "image index %d out of range (conversation has %d images)", p.Image, len(conv.Images))
				}
				if p.Image != next {
					return nil, errAt(src, mi, pi, ErrImageRef, "references image %d, want %d: each image must be referenced exactly once, in order (pixel_values follow the order of <|image|> runs)", p.Image, next)
				}
				next++
			default:
				return nil, errAt(src, mi, pi, ErrPart, "unknown part kind %d", p.Kind)
			}
		}
	}
	if next != len(conv.Images) {
		return nil, errAt(src, -1, -1, ErrImageRef, "%d images but only %d referenced by image parts", len(conv.Images), next)
	}
	last := len(conv.Messages) - 1
	if conv.Messages[last].Role != Assistant {
		return nil, errAt(src, last, -1, ErrNotAssistant, "role %s", conv.Messages[last].Role)
	}
	if o.Convention == LlamaFactory {
		if err := checkLlamaFactoryShape(conv); err != nil {
			return nil, err
		}
	}
	return counts, nil
}

func checkReserved(src Source, mi, pi int, text string, reserved []string) error {
	if text == "" {
		return nil
	}
	for _, tok := range reserved {
		if strings.Contains(text, tok) {
			return errAt(src, mi, pi, ErrReservedText, "contains %q", tok)
		}
	}
	return nil
}

// checkLlamaFactoryShape enforces what LLaMA-Factory's pairwise encoder accepts: an optional
// leading system message, then (user|observation, assistant) pairs.
func checkLlamaFactoryShape(conv Conversation) error {
	msgs := conv.Messages
	start := 0
	if msgs[0].Role == System {
		start = 1
	}
	if start == len(msgs) {
		return errAt(conv.Source, 0, -1, ErrStructure, "llama-factory: only a system message")
	}
	for i := start; i < len(msgs); i++ {
		r := msgs[i].Role
		prompt := (i-start)%2 == 0
		if prompt && r != User && r != Observation {
			return errAt(conv.Source, i, -1, ErrStructure, "llama-factory: want a user or observation message here (messages alternate prompt, assistant; system only first), got %s", r)
		}
		if !prompt && r != Assistant {
			return errAt(conv.Source, i, -1, ErrStructure, "llama-factory: want an assistant message here (messages alternate prompt, assistant), got %s", r)
		}
	}
	return nil
}
