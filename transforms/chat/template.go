package chat

import (
	"strings"
	"unicode"
)

// The GLM-4.5V template's fixed tokens.
const (
	tokGMASK       = "[gMASK]"
	tokSOP         = "<sop>"
	tokSystem      = "<|system|>"
	tokUser        = "<|user|>"
	tokAssistant   = "<|assistant|>"
	tokObservation = "<|observation|>"
	tokEOS         = "<|endoftext|>"
	tokThink       = "<think>"
	tokEndThink    = "</think>"
)

// special indexes the tokens a render places by id (so the loss mask knows where they are).
type special uint8

const (
	spText special = iota // not a special: piece.text
	spGMASK
	spSOP
	spSystem
	spUser
	spAssistant
	spObservation
	spEOS
	spThink
	spEndThink
	spImageStart
	spImage
	spImageEnd
	numSpecials
)

// specialStrings returns the token string of each special under o.
func specialStrings(o Options) [numSpecials]string {
	return [numSpecials]string{
		spGMASK: tokGMASK, spSOP: tokSOP, spSystem: tokSystem, spUser: tokUser,
		spAssistant: tokAssistant, spObservation: tokObservation, spEOS: tokEOS,
		spThink: tokThink, spEndThink: tokEndThink,
		spImageStart: o.ImageStart, spImage: o.ImageToken, spImageEnd: o.ImageEnd,
	}
}

// Piece marks (post-processing the encoder's ids needs).
const (
	markNone      uint8 = iota
	markTrimThink       // MegatronBridge: this <think> starts an assistant span; untrain a leading <think></think>\n
	markEOSTarget       // LlamaFactory: this role token is trained with <|endoftext|> as its target
)

// piece is one element of a rendered conversation: a special token (repeated count times) or
// text. Adjacent text pieces form one tokenizer segment.
type piece struct {
	sp    special
	text  string
	count int
	train bool
	mark  uint8
}

// builder accumulates pieces.
type builder struct {
	ps []piece
}

func (b *builder) tok(sp special, train bool) {
	b.ps = append(b.ps, piece{sp: sp, count: 1, train: train})
}

func (b *builder) marked(sp special, train bool, mark uint8) {
	b.ps = append(b.ps, piece{sp: sp, count: 1, train: train, mark: mark})
}

func (b *builder) text(s string, train bool) {
	if s != "" {
		b.ps = append(b.ps, piece{sp: spText, text: s, train: train})
	}
}

// parts renders user/observation content: text as is, an image as start, n × image, end.
func (b *builder) parts(ps []Part, counts []int) {
	for _, p := range ps {
		if p.Kind == ImagePart {
			b.tok(spImageStart, false)
			b.ps = append(b.ps, piece{sp: spImage, count: counts[p.Image]})
			b.tok(spImageEnd, false)
			continue
		}
		b.text(p.Text, false)
	}
}

// visibleText concatenates a message's text parts (the template's visible_text macro).
func visibleText(m Message) string {
	if len(m.Parts) == 1 && m.Parts[0].Kind == TextPart {
		return m.Parts[0].Text
	}
	var s strings.Builder
	for _, p := range m.Parts {
		if p.Kind == TextPart {
			s.WriteString(p.Text)
		}
	}
	return s.String()
}

// pyIsSpace is Python's str.isspace for one rune (Jinja's strip() is Python's): Go's
// unicode.IsSpace plus the separators U+001C..U+001F.
func pyIsSpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

func pyStrip(s string) string { return strings.TrimFunc(s, pyIsSpace) }

// splitReasoning returns an assistant message's reasoning and content as the template derives
// them: Message.Reasoning when set; otherwise, when the content holds "</think>", the text
// before it (after the last "<think>", newlines trimmed) is the reasoning and the text after
// the last "</think>" (leading newlines trimmed) the content.
func splitReasoning(m Message) (reasoning, content string) {
	content = visibleText(m)
	if m.Reasoning != "" {
		return m.Reasoning, content
	}
	end := strings.Index(content, tokEndThink)
	if end < 0 {
		return "", content
	}
	before := strings.TrimRight(content[:end], "\n")
	if i := strings.LastIndex(before, tokThink); i >= 0 {
		before = before[i+len(tokThink):]
	}
	reasoning = strings.TrimLeft(before, "\n")
	after := content[strings.LastIndex(content, tokEndThink)+len(tokEndThink):]
	return reasoning, strings.TrimLeft(after, "\n")
}

// buildPieces renders conv (validated) under o into pieces.
func buildPieces(conv Conversation, counts []int, o Options) []piece {
	b := builder{ps: make([]piece, 0, 8+8*len(conv.Messages))}
	b.tok(spGMASK, false)
	b.tok(spSOP, false)
	if o.Convention == LlamaFactory {
		buildLlamaFactory(&b, conv, counts, o)
	} else {
		buildMegatronBridge(&b, conv, counts, o)
	}
	return b.ps
}

// buildMegatronBridge follows the GLM-4.5V HF chat template (see doc.go for the sources and
// the points inferred):
//
//	system:      <|system|> "\n" text
//	user:        <|user|> "\n" parts ["/nothink" when thinking is disabled]
//	assistant:   <|assistant|> "\n" <think> reasoning </think> ["\n" content]
//	             (reasoning only for turns after the last user message, else empty)
//	observation: [<|observation|>] "\n<tool_response>\n" parts "\n</tool_response>"
//	             (consecutive observations share one <|observation|>)
//
// Loss: the assistant span after "<|assistant|>\n" (a leading empty think block is untrained
// later, token by token, as Megatron-Bridge does).
func buildMegatronBridge(b *builder, conv Conversation, counts []int, o Options) {
	msgs := conv.Messages
	lastUser := -1
	for i, m := range msgs {
		if m.Role == User {
			lastUser = i
		}
	}
	for i, m := range msgs {
		// With IncludeTerminator the role token that ends an assistant turn is trained.
		term := o.IncludeTerminator && i > 0 && msgs[i-1].Role == Assistant
		switch m.Role {
		case System:
			b.tok(spSystem, term)
			b.text("\n"+visibleText(m), false)
		case User:
			b.tok(spUser, term)
			b.text("\n", false)
			b.parts(m.Parts, counts)
			if !o.EnableThinking && !strings.HasSuffix(visibleText(m), "/nothink") {
				b.text("/nothink", false)
			}
		case Assistant:
			b.tok(spAssistant, term)
			b.text("\n", false)
			reasoning, content := splitReasoning(m)
			b.marked(spThink, true, markTrimThink)
			if i > lastUser && reasoning != "" {
				b.text(pyStrip(reasoning), true)
			}
			b.tok(spEndThink, true)
			if c := pyStrip(content); c != "" {
				b.text("\n"+c, true)
			}
		case Observation:
			if i == 0 || msgs[i-1].Role != Observation {
				b.tok(spObservation, term)
			}
			b.text("\n<tool_response>\n", false)
			b.parts(m.Parts, counts)
			b.text("\n</tool_response>", false)
		}
	}
	if o.IncludeTerminator {
		b.tok(spEOS, true)
	}
}

// LLaMA-Factory's default thought words ("<think>\n", "\n</think>\n\n"), inserted when a
// response has no think block: <think> lfThoughtInner </think> lfThoughtAfter.
const (
	lfThoughtInner = "\n\n"
	lfThoughtAfter = "\n\n"
)

// buildLlamaFactory follows LLaMA-Factory's "glm4_5v" template (ReasoningTemplate,
// efficient_eos):
//
//	prefix:   [gMASK]<sop>            system: <|system|> "\n" text   (first message only)
//	prompt:   <|user|> "\n" parts <|assistant|>   or   <|observation|> "\n" text <|assistant|>
//	response: "\n" content, or "\n" <think> reasoning </think> "\n" content
//	          with no reasoning: <think> "\n\n" </think> "\n\n" first — in the response
//	          (trained) when thinking is enabled, at the end of the prompt otherwise
//	end:      <|endoftext|> (trained)
//
// Each later prompt's first token is trained with <|endoftext|> as its target (efficient_eos).
// Reasoning is kept on the final assistant turn only, and dropped everywhere when thinking is
// disabled.
func buildLlamaFactory(b *builder, conv Conversation, counts []int, o Options) {
	msgs := conv.Messages
	start := 0
	if msgs[0].Role == System {
		b.tok(spSystem, false)
		b.text("\n"+visibleText(msgs[0]), false)
		start = 1
	}
	last := len(msgs) - 1
	for i := start; i < len(msgs); i += 2 {
		p, a := msgs[i], msgs[i+1]
		role := spUser
		if p.Role == Observation {
			role = spObservation
		}
		if i > start {
			b.marked(role, true, markEOSTarget)
		} else {
			b.tok(role, false)
		}
		b.text("\n", false)
		b.parts(p.Parts, counts)
		b.tok(spAssistant, false)

		reasoning, content := splitReasoning(a)
		if i+1 != last || !o.EnableThinking {
			reasoning = ""
		}
		if reasoning == "" {
			if !strings.Contains(content, tokThink) && !strings.Contains(content, tokEndThink) {
				t := o.EnableThinking // the empty thought is trained only in the response
				b.tok(spThink, t)
				b.text(lfThoughtInner, t)
				b.tok(spEndThink, t)
				b.text(lfThoughtAfter, t)
			}
			b.text("\n"+content, true)
			continue
		}
		b.text("\n", true)
		b.tok(spThink, true)
		b.text(reasoning, true)
		b.tok(spEndThink, true)
		b.text("\n"+content, true)
	}
	b.tok(spEOS, true)
}
