package makers

import (
	"github.com/glmflow/glmflow/datasets/hub"
	"github.com/glmflow/glmflow/transforms/chat"
)

func init() { Register("medpix", func(Options) Maker { return medpix{} }) }

type medpix struct{}

func (medpix) Name() string     { return "medpix" }
func (medpix) Dataset() string  { return "mmoukouba/MedPix-VQA" }
func (medpix) Config() string   { return "" }
func (medpix) Splits() []string { return []string{"train", "validation"} }
func (medpix) Columns() []hub.Column {
	return []hub.Column{
		{Name: "image_id", Kind: hub.KindImage}, // despite its name, the image itself
		{Name: "question", Kind: hub.KindString},
		{Name: "answer", Kind: hub.KindString},
	}
}

// Make: image_id + question → answer.
func (medpix) Make(r hub.Row) (chat.Conversation, error) {
	im, err := r.Image("image_id")
	if err != nil {
		return chat.Conversation{}, err
	}
	q, err := r.String("question")
	if err != nil {
		return chat.Conversation{}, err
	}
	a, err := r.String("answer")
	if err != nil {
		return chat.Conversation{}, err
	}
	return userAssistant([]hub.Image{im}, q, a), nil
}
