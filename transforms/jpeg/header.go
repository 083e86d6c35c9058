package jpeg

// Marker parsing with libjpeg-turbo's rules (jdmarker.c, jdinput.c): which
// markers are accepted, which parameters are errors, and how the colour
// space is guessed (JFIF / Adobe APP14 / component ids).

const (
	mSOF0 = 0xC0
	mSOF1 = 0xC1
	mSOF2 = 0xC2
	mDHT  = 0xC4
	mDAC  = 0xCC
	mRST0 = 0xD0
	mRST7 = 0xD7
	mSOI  = 0xD8
	mEOI  = 0xD9
	mSOS  = 0xDA
	mDQT  = 0xDB
	mDRI  = 0xDD
	mAPP0 = 0xE0
	mAPP1 = 0xE1
	mAPPE = 0xEE
	mAPPF = 0xEF
	mTEM  = 0x01
	mCOM  = 0xFE

	maxDimension = 65500 // JPEG_MAX_DIMENSION
	maxBlocksMCU = 10    // D_MAX_BLOCKS_IN_MCU
)

// component is one frame component. Planes and coefficient buffers cover the
// MCU-padded block grid bw x bh.
type component struct {
	id     byte
	h, v   int       // sampling factors
	tq     int       // quantization table selector
	q      [64]int16 // latched table, natural order, as libjpeg's ISLOW_MULT_TYPE (short)
	qSeen  bool
	bw, bh int     // padded block grid: mcusX*h x mcusY*v
	dw, dh int     // downsampled size: ceil(W*h/hmax) x ceil(H*v/vmax)
	plane  []uint8 // [bh*8, bw*8]
	stride int
	coef   []int16 // progressive / multi-scan: [bh, bw, 64], natural order
	// coefBits mirrors libjpeg's coef_bits for coefficients 0..9 (progressive
	// only); -1 = never scanned.
	coefBits [10]int
	pred     int32
	dcTbl    int
	acTbl    int
}

type decoder struct {
	data []byte
	pos  int // read position in data

	width, height int
	progressive   bool
	sawSOF        bool
	comps         []component
	hmax, vmax    int
	mcusX, mcusY  int

	qt        [4][64]uint16 // natural order
	qtDefined [4]bool
	dc, ac    [4]*huffTable
	br        bitReader // entropy reader, its buffer reused across scans
	scratch   *scratch  // reused internal buffers (Decode only)
	pix       []uint8   // Options.Pix

	restartInterval int
	jfif            bool
	adobe           bool
	adobeTransform  int
	orientation     int
	exifSeen        bool

	// Current scan.
	scanComps []int // indices into comps
	ss, se    int
	ah, al    int
	multiScan bool // decided at the first SOS, like libjpeg's has_multiple_scans
	scanCount int
	eobrun    int
	// countWide makes the decoder count wideBlocks (tests only).
	countWide  bool
	wideBlocks int
	// out converts decoded rows to pixels; sequential single-scan images feed it band by band.
	out *outputter
	// warnings counts libjpeg warnings: bad Huffman codes, markers inside
	// entropy data, restart resynchronisation.
	warnings int
}

func (d *decoder) u16(at int) int { return int(d.data[at])<<8 | int(d.data[at+1]) }

// nextMarker implements jdmarker.c next_marker: skip to an 0xFF, swallow fill
// 0xFFs, ignore stuffed FF00 pairs. It returns the marker code and leaves pos
// after it, or ok=false at end of data.
func (d *decoder) nextMarker() (byte, bool) {
	for {
		for d.pos < len(d.data) && d.data[d.pos] != 0xFF {
			d.pos++
		}
		for d.pos < len(d.data) && d.data[d.pos] == 0xFF {
			d.pos++
		}
		if d.pos >= len(d.data) {
			return 0, false
		}
		c := d.data[d.pos]
		d.pos++
		if c != 0 {
			return c, true
		}
	}
}

// segment returns the payload of a marker segment at pos (after the marker
// code) and advances past it.
func (d *decoder) segment(marker byte) ([]byte, error) {
	if d.pos+2 > len(d.data) {
		return nil, errf(ErrTruncated, "marker 0x%02X at byte %d: length field cut off", marker, d.pos-2)
	}
	n := d.u16(d.pos)
	if n < 2 {
		return nil, errf(ErrFormat, "marker 0x%02X at byte %d: bad length %d", marker, d.pos-2, n)
	}
	if d.pos+n > len(d.data) {
		return nil, errf(ErrTruncated, "marker 0x%02X at byte %d: segment of %d bytes runs past end of data (%d bytes)", marker, d.pos-2, n, len(d.data))
	}
	s := d.data[d.pos+2 : d.pos+n]
	d.pos += n
	return s, nil
}

// readHeaders parses from SOI up to and including the first SOS header.
func (d *decoder) readHeaders() error {
	if len(d.data) < 2 || d.data[0] != 0xFF || d.data[1] != mSOI {
		return errf(ErrFormat, "missing SOI marker at byte 0 (not a JPEG file)")
	}
	d.pos = 2
	for {
		m, ok := d.nextMarker()
		if !ok {
			return errf(ErrTruncated, "no SOS marker before end of data (%d bytes)", len(d.data))
		}
		done, err := d.handleMarker(m, true)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// handleMarker processes one marker. It reports done=true after an SOS header
// (scan data starts at d.pos). EOI is reported as an error when inHeaders.
func (d *decoder) handleMarker(m byte, inHeaders bool) (done bool, err error) {
	at := d.pos - 2
	switch {
	case m == mSOF0 || m == mSOF1 || m == mSOF2:
		if d.sawSOF {
			return false, errf(ErrFormat, "second SOF marker at byte %d", at)
		}
		return false, d.readSOF(m)
	case m == 0xC9 || m == 0xCA || m == mDAC:
		return false, errf(ErrUnsupported, "arithmetic-coded JPEG: unsupported by glmflow's decoder (marker 0x%02X at byte %d; Pillow decodes it)", m, at)
	case m == 0xC3 || (m >= 0xC5 && m <= 0xC7) || m == 0xCB || (m >= 0xCD && m <= 0xCF):
		return false, errf(ErrUnsupported, "SOF%d frame (lossless/hierarchical) at byte %d: unsupported", m-0xC0, at)
	case m == mDHT:
		return false, d.readDHT()
	case m == mDQT:
		return false, d.readDQT()
	case m == mDRI:
		s, err := d.segment(m)
		if err != nil {
			return false, err
		}
		if len(s) != 2 {
			return false, errf(ErrFormat, "DRI at byte %d: length %d, want 4", at, len(s)+2)
		}
		d.restartInterval = int(s[0])<<8 | int(s[1])
		return false, nil
	case m >= mAPP0 && m <= mAPPF:
		s, err := d.segment(m)
		if err != nil {
			return false, err
		}
		d.examineAPP(m, s)
		return false, nil
	case m == mCOM:
		_, err := d.segment(m)
		return false, err
	case m >= mRST0 && m <= mRST7, m == mTEM:
		return false, nil // parameterless; libjpeg only traces them
	case m == mSOS:
		if !d.sawSOF {
			return false, errf(ErrFormat, "SOS at byte %d before any SOF", at)
		}
		return true, d.readSOS()
	case m == mEOI:
		if inHeaders {
			return false, errf(ErrFormat, "EOI at byte %d before any scan (no image)", at)
		}
		return true, nil
	}
	return false, errf(ErrFormat, "unknown marker 0xFF%02X at byte %d", m, at)
}

func (d *decoder) readSOF(m byte) error {
	at := d.pos - 2
	s, err := d.segment(m)
	if err != nil {
		return err
	}
	if len(s) < 6 {
		return errf(ErrFormat, "SOF at byte %d: length %d too short", at, len(s)+2)
	}
	if s[0] != 8 {
		return errf(ErrUnsupported, "SOF at byte %d: %d-bit precision (only 8-bit; Pillow also refuses)", at, s[0])
	}
	d.height = int(s[1])<<8 | int(s[2])
	d.width = int(s[3])<<8 | int(s[4])
	n := int(s[5])
	if d.width <= 0 || d.height <= 0 || n <= 0 {
		return errf(ErrFormat, "SOF at byte %d: empty image (%dx%d, %d components)", at, d.width, d.height, n)
	}
	if d.width > maxDimension || d.height > maxDimension {
		return errf(ErrFormat, "SOF at byte %d: %dx%d exceeds the JPEG maximum dimension %d", at, d.width, d.height, maxDimension)
	}
	if len(s) != 6+3*n {
		return errf(ErrFormat, "SOF at byte %d: length %d does not match %d components", at, len(s)+2, n)
	}
	if n != 1 && n != 3 && n != 4 {
		return errf(ErrUnsupported, "SOF at byte %d: %d components (PIL handles 1, 3 or 4)", at, n)
	}
	d.comps = make([]component, n)
	d.hmax, d.vmax = 1, 1
	for i := range d.comps {
		c := &d.comps[i]
		c.id = s[6+3*i]
		c.h = int(s[7+3*i] >> 4)
		c.v = int(s[7+3*i] & 15)
		c.tq = int(s[8+3*i])
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
			return errf(ErrFormat, "SOF at byte %d: component %d has bad sampling factors %dx%d", at, i, c.h, c.v)
		}
		if c.tq > 3 {
			return errf(ErrFormat, "SOF at byte %d: component %d uses quantization table %d", at, i, c.tq)
		}
		d.hmax = max(d.hmax, c.h)
		d.vmax = max(d.vmax, c.v)
	}
	d.mcusX = (d.width + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcusY = (d.height + 8*d.vmax - 1) / (8 * d.vmax)
	for i := range d.comps {
		c := &d.comps[i]
		c.bw = d.mcusX * c.h
		c.bh = d.mcusY * c.v
		c.dw = (d.width*c.h + d.hmax - 1) / d.hmax
		c.dh = (d.height*c.v + d.vmax - 1) / d.vmax
		c.stride = c.bw * 8
		for k := range c.coefBits {
			c.coefBits[k] = -1
		}
	}
	d.progressive = m == mSOF2
	d.sawSOF = true
	return nil
}

func (d *decoder) readDQT() error {
	at := d.pos - 2
	s, err := d.segment(mDQT)
	if err != nil {
		return err
	}
	for len(s) > 0 {
		prec, id := int(s[0]>>4), int(s[0]&15)
		if id > 3 {
			return errf(ErrFormat, "DQT at byte %d: table index %d", at, id)
		}
		if prec > 1 {
			return errf(ErrFormat, "DQT at byte %d: precision %d", at, prec)
		}
		need := 1 + 64*(prec+1)
		if len(s) < need {
			return errf(ErrFormat, "DQT at byte %d: table %d needs %d bytes, %d left", at, id, need, len(s))
		}
		for i := 0; i < 64; i++ {
			var v uint16
			if prec == 0 {
				v = uint16(s[1+i])
			} else {
				v = uint16(s[1+2*i])<<8 | uint16(s[2+2*i])
			}
			d.qt[id][naturalOrder[i]] = v
		}
		d.qtDefined[id] = true
		s = s[need:]
	}
	return nil
}

func (d *decoder) readDHT() error {
	at := d.pos - 2
	s, err := d.segment(mDHT)
	if err != nil {
		return err
	}
	for len(s) > 0 {
		if len(s) < 17 {
			return errf(ErrFormat, "DHT at byte %d: truncated table header", at)
		}
		class, id := s[0]>>4, int(s[0]&15)
		if class > 1 || id > 3 {
			return errf(ErrFormat, "DHT at byte %d: bad table class/index 0x%02X", at, s[0])
		}
		var counts [17]int
		total := 0
		for l := 1; l <= 16; l++ {
			counts[l] = int(s[l])
			total += counts[l]
		}
		if total > 256 || total > len(s)-17 {
			return errf(ErrFormat, "DHT at byte %d: table %d/%d declares %d symbols, %d bytes left", at, class, id, total, len(s)-17)
		}
		t, err := buildHuffTable(counts, s[17:17+total], class == 0)
		if err != nil {
			return errf(ErrFormat, "DHT at byte %d: table %d/%d: %v", at, class, id, err)
		}
		if class == 0 {
			d.dc[id] = t
		} else {
			d.ac[id] = t
		}
		s = s[17+total:]
	}
	return nil
}

func (d *decoder) readSOS() error {
	at := d.pos - 2
	s, err := d.segment(mSOS)
	if err != nil {
		return err
	}
	if len(s) < 1 {
		return errf(ErrFormat, "SOS at byte %d: empty", at)
	}
	n := int(s[0])
	if n < 1 || n > 4 || len(s) != 4+2*n {
		return errf(ErrFormat, "SOS at byte %d: bad length %d for %d components", at, len(s)+2, n)
	}
	d.scanComps = d.scanComps[:0]
	blocks := 0
	for i := 0; i < n; i++ {
		id := s[1+2*i]
		ci := -1
		for j := range d.comps {
			if d.comps[j].id == id {
				ci = j
				break
			}
		}
		if ci < 0 {
			return errf(ErrFormat, "SOS at byte %d: component id %d not in frame", at, id)
		}
		for _, p := range d.scanComps {
			if p == ci {
				return errf(ErrFormat, "SOS at byte %d: component id %d repeated", at, id)
			}
		}
		c := &d.comps[ci]
		c.dcTbl = int(s[2+2*i] >> 4)
		c.acTbl = int(s[2+2*i] & 15)
		if c.dcTbl > 3 || c.acTbl > 3 {
			return errf(ErrFormat, "SOS at byte %d: component %d uses Huffman table %d/%d", at, ci, c.dcTbl, c.acTbl)
		}
		d.scanComps = append(d.scanComps, ci)
		blocks += c.h * c.v
	}
	if n > 1 && blocks > maxBlocksMCU {
		return errf(ErrFormat, "SOS at byte %d: %d blocks per MCU exceeds %d", at, blocks, maxBlocksMCU)
	}
	d.ss, d.se = int(s[1+2*n]), int(s[2+2*n])
	d.ah, d.al = int(s[3+2*n]>>4), int(s[3+2*n]&15)
	return nil
}

// examineAPP records JFIF, Adobe and the first Exif segment, as libjpeg
// (examine_app0/app14) and Pillow (first "Exif\0\0" APP1) do.
func (d *decoder) examineAPP(m byte, s []byte) {
	switch m {
	case mAPP0:
		if len(s) >= 14 && string(s[:5]) == "JFIF\x00" {
			d.jfif = true
		}
	case mAPPE:
		if len(s) >= 12 && string(s[:5]) == "Adobe" {
			d.adobe = true
			d.adobeTransform = int(s[11])
		}
	case mAPP1:
		if !d.exifSeen && len(s) >= 6 && string(s[:6]) == "Exif\x00\x00" {
			d.exifSeen = true
			d.orientation = exifOrientation(s[6:])
		}
	}
}
