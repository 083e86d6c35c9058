package imageproc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
)

// Options are the Glm4vImageProcessor settings plus glmflow's decoding guards.
//
// MinPixels/MaxPixels are HF's size.shortest_edge/size.longest_edge: pixel counts, not edges,
// and the temporal factor (TemporalPatchSize) enters the budget, so a still image gets at most
// MaxPixels/2 pixels after resizing.
type Options struct {
	MinPixels, MaxPixels int // HF size {shortest_edge, longest_edge}
	// MaxDecodePixels caps width×height read from the file header; larger images are refused
	// before any pixel buffer is allocated.
	MaxDecodePixels   int
	PatchSize         int        // 14
	TemporalPatchSize int        // 2
	MergeSize         int        // 2
	Mean, Std         [3]float32 // OpenAI CLIP mean/std, as float32 (HF casts them to the image dtype)

	// AlphaOverWhite composites images with transparency over opaque white before dropping
	// alpha (Idefics2/Mllama's convert_to_rgb). Off by default: Glm4vImageProcessor (slow and
	// fast, transformers 4.5x and 5.x) uses image_transforms.convert_to_rgb, which is plain
	// PIL Image.convert("RGB") and drops alpha without compositing.
	AlphaOverWhite bool
	// ExifTranspose applies the EXIF Orientation tag of JPEG files (PIL ImageOps.exif_transpose).
	// Off by default: PIL's Image.open and the HF image processors do not rotate. Note that the
	// HF datasets library's Image feature does, since datasets 2.19 (PR #6739).
	ExifTranspose bool
}

// GLM-4.5V's preprocessor_config.json values (glm45v.md §5.2).
const (
	DefaultMinPixels       = 112 * 112                  // 12,544
	DefaultMaxPixels       = 14 * 14 * 2 * 2 * 2 * 6144 // 9,633,792
	DefaultMaxDecodePixels = 89_478_485                 // PIL's Image.MAX_IMAGE_PIXELS
	maxSide                = 1 << 16                    // refuse headers with a side > 65536
)

// DefaultOptions returns GLM-4.5V's processor settings.
func DefaultOptions() Options {
	return Options{
		MinPixels:         DefaultMinPixels,
		MaxPixels:         DefaultMaxPixels,
		MaxDecodePixels:   DefaultMaxDecodePixels,
		PatchSize:         14,
		TemporalPatchSize: 2,
		MergeSize:         2,
		Mean:              [3]float32{0.48145466, 0.4578275, 0.40821073},
		Std:               [3]float32{0.26862954, 0.26130258, 0.27577711},
	}
}

// Validate reports the first setting that cannot work.
func (o Options) Validate() error {
	switch {
	case o.PatchSize < 1 || o.PatchSize > 64:
		return fmt.Errorf("imageproc: PatchSize %d: want 1..64", o.PatchSize)
	case o.TemporalPatchSize < 1 || o.TemporalPatchSize > 16:
		return fmt.Errorf("imageproc: TemporalPatchSize %d: want 1..16", o.TemporalPatchSize)
	case o.MergeSize < 1 || o.MergeSize > 16:
		return fmt.Errorf("imageproc: MergeSize %d: want 1..16", o.MergeSize)
	case o.MinPixels < 1:
		return fmt.Errorf("imageproc: MinPixels %d: want ≥ 1", o.MinPixels)
	case o.MaxPixels < o.MinPixels:
		return fmt.Errorf("imageproc: MaxPixels %d is below MinPixels %d", o.MaxPixels, o.MinPixels)
	case o.MaxPixels > 1<<40:
		return fmt.Errorf("imageproc: MaxPixels %d: want ≤ 2^40", o.MaxPixels)
	case o.MaxDecodePixels < 1:
		return fmt.Errorf("imageproc: MaxDecodePixels %d: want ≥ 1", o.MaxDecodePixels)
	}
	for c := range 3 {
		if m := o.Mean[c]; math.IsNaN(float64(m)) || math.IsInf(float64(m), 0) {
			return fmt.Errorf("imageproc: Mean[%d] = %v is not finite", c, m)
		}
		if s := o.Std[c]; !(s > 0) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("imageproc: Std[%d] = %v: want finite and > 0", c, s)
		}
	}
	return nil
}

// RowLen is the length of one pixel_values row: 3·TemporalPatchSize·PatchSize² (1176).
func (o Options) RowLen() int { return 3 * o.TemporalPatchSize * o.PatchSize * o.PatchSize }

// frameRowLen is the length of one stored uint8 row (one temporal frame): 3·PatchSize² (588).
func (o Options) frameRowLen() int { return 3 * o.PatchSize * o.PatchSize }

// Canonical renders every setting that changes the output, one "key=value" per line in a fixed
// order, floats as their exact float32 bit patterns. Hash hashes this text.
func (o Options) Canonical() string {
	b := []byte("glmflow/imageproc v1\n")
	kv := func(k string, v string) { b = append(append(append(append(b, k...), '='), v...), '\n') }
	i := func(k string, v int) { kv(k, strconv.Itoa(v)) }
	i("min_pixels", o.MinPixels)
	i("max_pixels", o.MaxPixels)
	i("max_decode_pixels", o.MaxDecodePixels)
	i("patch_size", o.PatchSize)
	i("temporal_patch_size", o.TemporalPatchSize)
	i("merge_size", o.MergeSize)
	for c := range 3 {
		kv("mean"+strconv.Itoa(c), fmt.Sprintf("%08x", math.Float32bits(o.Mean[c])))
	}
	for c := range 3 {
		kv("std"+strconv.Itoa(c), fmt.Sprintf("%08x", math.Float32bits(o.Std[c])))
	}
	kv("alpha_over_white", strconv.FormatBool(o.AlphaOverWhite))
	kv("exif_transpose", strconv.FormatBool(o.ExifTranspose))
	kv("resample", "pil-9.4-bicubic")
	kv("rescale", "f64(x)*(1/255)->f32")
	return string(b)
}

// Hash is the hex sha256 of Canonical: a stable identity of the processor settings for dataset
// manifests.
func (o Options) Hash() string {
	s := sha256.Sum256([]byte(o.Canonical()))
	return hex.EncodeToString(s[:])
}
