package makers

import (
	"github.com/glmflow/glmflow/datasets/hub"
	"github.com/glmflow/glmflow/transforms/chat"
)

func init() { Register("raven", func(Options) Maker { return raven{} }) }

type raven struct{}

func (raven) Name() string     { return "raven" }
func (raven) Dataset() string  { return "HuggingFaceM4/the_cauldron" }
func (raven) Config() string   { return "raven" }
func (raven) Splits() []string { return []string{"train"} } // Megatron-Bridge raises on others
func (raven) Columns() []hub.Column {
	return []hub.Column{{Name: "images", Kind: hub.KindImageList}, {Name: "texts", Kind: hub.KindTurns}}
}

// Make: every image, then texts[0].user → texts[0].assistant. A row without images or texts is
// an error (Megatron-Bridge drops it silently; here the caller dead-letters it).
func (raven) Make(r hub.Row) (chat.Conversation, error) {
	ims, err := r.Images("images")
	if err != nil {
		return chat.Conversation{}, err
	}
	if len(ims) == 0 {
		return chat.Conversation{}, &hub.RowError{File: r.File(), Row: r.Index(), Column: "images", Msg: "no images"}
	}
	turns, err := r.Turns("texts")
	if err != nil {
		return chat.Conversation{}, err
	}
	if len(turns) == 0 {
		return chat.Conversation{}, &hub.RowError{File: r.File(), Row: r.Index(), Column: "texts", Msg: "no turns"}
	}
	return userAssistant(ims, turns[0].User, turns[0].Assistant), nil
}
