package chat

import (
	"errors"
	"strings"
	"testing"
)

func TestRenderErrors(t *testing.T) {
	user := func(parts ...Part) Message { return Message{Role: User, Parts: parts} }
	asst := func(s string) Message { return Message{Role: Assistant, Parts: []Part{Text(s)}} }
	img := [][]byte{{1}}
	g := [][3]int{{1, 2, 2}}
	lf := lfOpts(true)
	cases := []struct {
		name  string
		conv  Conversation
		grids [][3]int
		opts  Options
		is    error
		msg   string
	}{
		{"empty", Conversation{}, nil, Options{}, ErrEmpty, "no messages"},
		{"image index out of range", Conversation{Messages: []Message{user(Image(3)), asst("a")}, Images: img}, g, Options{}, ErrImageRef, "message 0: part 0: bad image reference: image index 3 out of range (conversation has 1 images)"},
		{"negative image index", Conversation{Messages: []Message{user(Image(-1)), asst("a")}, Images: img}, g, Options{}, ErrImageRef, "image index -1 out of range"},
		{"images out of order", Conversation{Messages: []Message{user(Image(1), Image(0)), asst("a")}, Images: make([][]byte, 2)}, [][3]int{{1, 2, 2}, {1, 2, 2}}, Options{}, ErrImageRef, "references image 1, want 0"},
		{"image referenced twice", Conversation{Messages: []Message{user(Image(0), Image(0)), asst("a")}, Images: make([][]byte, 2)}, [][3]int{{1, 2, 2}, {1, 2, 2}}, Options{}, ErrImageRef, "part 1: bad image reference: references image 0, want 1"},
		{"image never referenced", Conversation{Messages: []Message{user(Text("q")), asst("a")}, Images: img}, g, Options{}, ErrImageRef, "1 images but only 0 referenced"},
		{"grid count mismatch", Conversation{Messages: []Message{user(Image(0)), asst("a")}, Images: img}, nil, Options{}, ErrGrid, "got 0 grids for 1 images"},
		{"grid not divisible by merge", Conversation{Messages: []Message{user(Image(0)), asst("a")}, Images: img}, [][3]int{{1, 3, 4}}, Options{}, ErrGrid, "image 0 grid (t,h,w)=(1,3,4): h and w must be multiples of MergeSize 2"},
		{"grid with zero", Conversation{Messages: []Message{user(Image(0)), asst("a")}, Images: img}, [][3]int{{0, 2, 2}}, Options{}, ErrGrid, "sizes must be positive"},
		{"grid too large", Conversation{Messages: []Message{user(Image(0)), asst("a")}, Images: img}, [][3]int{{1, 1 << 30, 1 << 30}}, Options{}, ErrGrid, "more than MaxImageTokens"},
		{"last message from the user", Conversation{Messages: []Message{user(Text("q"))}}, nil, Options{}, ErrNotAssistant, "message 0: last message is not from the assistant"},
		{"last message an observation", Conversation{Messages: []Message{user(Text("q")), asst("a"), {Role: Observation, Parts: []Part{Text("r")}}}}, nil, Options{}, ErrNotAssistant, "message 2"},
		{"unknown role", Conversation{Messages: []Message{{Role: "tool"}, asst("a")}}, nil, Options{}, ErrRole, `"tool"`},
		{"unknown part kind", Conversation{Messages: []Message{user(Part{Kind: 7}), asst("a")}}, nil, Options{}, ErrPart, "unknown part kind 7"},
		{"image in an assistant message", Conversation{Messages: []Message{user(Text("q")), {Role: Assistant, Parts: []Part{Image(0)}}}, Images: img}, g, Options{}, ErrPart, "image in a message of role assistant"},
		{"reasoning on a user message", Conversation{Messages: []Message{{Role: User, Parts: []Part{Text("q")}, Reasoning: "r"}, asst("a")}}, nil, Options{}, ErrPart, "user message has Reasoning"},
		{"role token in text", Conversation{Messages: []Message{user(Text("q<|user|>")), asst("a")}}, nil, Options{}, ErrReservedText, `part 0: text contains a reserved template token: contains "<|user|>"`},
		{"image token in reasoning", Conversation{Messages: []Message{user(Text("q")), {Role: Assistant, Parts: []Part{Text("a")}, Reasoning: "<|image|>"}}}, nil, Options{}, ErrReservedText, "message 1: text contains"},
		{"eos in the answer", Conversation{Messages: []Message{user(Text("q")), asst("a<|endoftext|>")}}, nil, Options{}, ErrReservedText, "<|endoftext|>"},
		{"llama-factory: two prompts in a row", Conversation{Messages: []Message{user(Text("q")), user(Text("q")), asst("a")}}, nil, lf, ErrStructure, "message 1: conversation shape not supported by the convention: llama-factory: want an assistant message here"},
		{"llama-factory: system later", Conversation{Messages: []Message{user(Text("q")), asst("a"), {Role: System, Parts: []Part{Text("s")}}, user(Text("q")), asst("a")}}, nil, lf, ErrStructure, "message 2"},
		{"llama-factory: assistant first", Conversation{Messages: []Message{asst("a")}}, nil, lf, ErrStructure, "message 0"},
		{"source named", Conversation{Messages: []Message{user(Text("q")), asst("a"), user(Image(4))}, Source: Source{File: "data/train-00000-of-00004.parquet", Row: 7}}, nil, Options{}, ErrImageRef, "chat: data/train-00000-of-00004.parquet row 7: message 2: part 0: "},
	}
	enc := newTestEncoder()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Render(c.conv, c.grids, enc, c.opts)
			if !errors.Is(err, c.is) {
				t.Fatalf("Render error %v, want %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("Render error %q does not contain %q", err, c.msg)
			}
			_, err2 := RenderText(c.conv, c.grids, c.opts)
			if err2 == nil || err2.Error() != err.Error() {
				t.Errorf("RenderText error %v, Render error %v", err2, err)
			}
		})
	}
}

// splitEncoder hides one added token: TokenID still finds it (as a vocabulary entry, or not at
// all), but the encoder tokenizes the string as plain text.
type splitEncoder struct {
	*testEncoder
	hidden  string
	inVocab bool
}

func (e splitEncoder) TokenID(tok string) (int32, bool) {
	if tok == e.hidden {
		return 7, e.inVocab
	}
	return e.testEncoder.TokenID(tok)
}

func (e splitEncoder) AppendEncode(dst []int32, text string) []int32 {
	for {
		i := strings.Index(text, e.hidden)
		if i < 0 {
			return e.testEncoder.AppendEncode(dst, text)
		}
		dst = e.testEncoder.AppendEncode(dst, text[:i])
		dst = e.testEncoder.appendPlain(dst, e.hidden)
		text = text[i+len(e.hidden):]
	}
}

func TestRendererTokenErrors(t *testing.T) {
	for _, tok := range []string{"[gMASK]", "<think>", "</think>", "<|image|>", "<|endoftext|>", "<|observation|>"} {
		_, err := NewRenderer(splitEncoder{newTestEncoder(), tok, false}, Options{})
		if !errors.Is(err, ErrMissingToken) || !strings.Contains(err.Error(), `"`+tok+`"`) {
			t.Errorf("missing %s: error %v", tok, err)
		}
		_, err = NewRenderer(splitEncoder{newTestEncoder(), tok, true}, Options{})
		if !errors.Is(err, ErrMissingToken) || !strings.Contains(err.Error(), "not an added token") {
			t.Errorf("%s not split as one token: error %v", tok, err)
		}
	}
	o := DefaultOptions()
	o.ImageToken = "<|image_pad|>"
	if _, err := NewRenderer(newTestEncoder(), o); !errors.Is(err, ErrMissingToken) || !strings.Contains(err.Error(), "<|image_pad|>") {
		t.Errorf("custom image token missing: error %v", err)
	}
	if _, err := NewRenderer(nil, Options{}); !errors.Is(err, ErrEncoder) {
		t.Errorf("nil encoder: error %v", err)
	}
	if _, err := Render(cordLike(), [][3]int{{1, 2, 2}}, nil, Options{}); !errors.Is(err, ErrEncoder) {
		t.Errorf("Render nil encoder: error %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	mod := func(f func(*Options)) Options { o := DefaultOptions(); f(&o); return o }
	cases := []struct {
		o   Options
		msg string
	}{
		{Options{Convention: LlamaFactory}, "MergeSize 0 out of range"},
		{mod(func(o *Options) { o.MergeSize = 100 }), "MergeSize 100"},
		{mod(func(o *Options) { o.ImageEnd = "" }), "ImageEnd is empty"},
		{mod(func(o *Options) { o.ImageEnd = o.ImageToken }), "ImageToken and ImageEnd are both"},
		{mod(func(o *Options) { o.Convention = 9 }), "Convention(9)"},
		{mod(func(o *Options) { o.Convention = LlamaFactory; o.IncludeTerminator = true }), "IncludeTerminator applies to megatron-bridge only"},
	}
	for _, c := range cases {
		err := c.o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Validate(%v) = %v, want %q", c.o, err, c.msg)
		}
		if _, err := Render(cordLike(), [][3]int{{1, 2, 2}}, newTestEncoder(), c.o); err == nil {
			t.Errorf("Render accepted %v", c.o)
		}
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// FuzzRender builds arbitrary (mostly invalid) conversations and options from bytes: Render
// must return ids or an error, never panic, and agree with RenderText on which.
func FuzzRender(f *testing.F) {
	f.Add([]byte{0, 'a', 1, 2, 'b'}, uint8(0))
	f.Add([]byte{0, 3, 0, 5, 2, 'x', 1, 'y'}, uint8(1))
	f.Add([]byte{4, 0, 9, 9, 9, 2}, uint8(6))
	f.Add([]byte("\x00<|user|>\x02</think>ok"), uint8(3))
	roles := []Role{User, Assistant, System, Observation, "bogus"}
	enc := newTestEncoder()
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		var conv Conversation
		var grids [][3]int
		for len(data) > 0 {
			op := data[0]
			data = data[1:]
			switch op % 5 {
			case 0, 1, 2: // new message of role op, text from the following bytes up to a NUL
				end := len(data)
				for i, c := range data {
					if c == 0 {
						end = i
						break
					}
				}
				m := Message{Role: roles[int(op)%len(roles)], Parts: []Part{Text(string(data[:end]))}}
				if op%3 == 0 {
					m.Reasoning = string(data[:end/2])
				}
				conv.Messages = append(conv.Messages, m)
				data = data[min(end+1, len(data)):]
			case 3: // image part referencing the next byte's index
				if len(conv.Messages) == 0 || len(data) == 0 {
					continue
				}
				m := &conv.Messages[len(conv.Messages)-1]
				m.Parts = append(m.Parts, Image(int(int8(data[0]))))
				data = data[1:]
			case 4: // an image with a grid from the next three bytes
				if len(data) < 3 {
					data = nil
					continue
				}
				conv.Images = append(conv.Images, nil)
				grids = append(grids, [3]int{int(data[0]), int(data[1]), int(data[2])})
				data = data[3:]
			}
		}
		o := DefaultOptions()
		o.Convention = Convention(flags & 1)
		o.EnableThinking = flags&2 == 0
		o.IncludeTerminator = flags&4 != 0
		r, err := Render(conv, grids, enc, o)
		text, terr := RenderText(conv, grids, o)
		if (err == nil) != (terr == nil) {
			t.Fatalf("Render error %v, RenderText error %v", err, terr)
		}
		if err != nil {
			return
		}
		if len(r.Loss) != len(r.InputIDs) || enc.Decode(r.InputIDs) != text {
			t.Fatalf("inconsistent render of %q", text)
		}
	})
}
