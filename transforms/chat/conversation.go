package chat

// Role is who speaks a message.
type Role string

// The roles of the GLM-4.5V chat format.
const (
	System      Role = "system"
	User        Role = "user"
	Assistant   Role = "assistant"
	Observation Role = "observation" // tool results
)

// PartKind says what a Part holds.
type PartKind uint8

// Part kinds.
const (
	TextPart  PartKind = iota // Part.Text
	ImagePart                 // Part.Image indexes Conversation.Images
)

// Part is one piece of a message's content: text, or a reference to an image of the conversation.
type Part struct {
	Kind  PartKind
	Text  string // TextPart
	Image int    // ImagePart: index into Conversation.Images
}

// Message is one turn. Reasoning is the assistant's thinking (rendered as <think>…</think>);
// empty means none.
type Message struct {
	Role      Role
	Parts     []Part
	Reasoning string
}

// Source names where a conversation came from, so every prepared row and every dead-letter entry
// can be traced back to its input.
type Source struct {
	File string // the input file as given to the maker
	Row  int64  // 0-based row in that file
}

// Conversation is what a dataset maker produces: messages plus the encoded image files they
// reference (JPEG/PNG bytes exactly as stored in the dataset; decoding is the image processor's job).
type Conversation struct {
	Messages []Message
	Images   [][]byte
	Source   Source
}

// Text returns a text part.
func Text(s string) Part { return Part{Kind: TextPart, Text: s} }

// Image returns a part referring to Conversation.Images[i].
func Image(i int) Part { return Part{Kind: ImagePart, Image: i} }
