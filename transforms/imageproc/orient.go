package imageproc

import "encoding/binary"

// exifOrientation returns the EXIF Orientation (1..8) of a JPEG file, or 0 when it has none or
// the EXIF block is malformed (malformed metadata never fails a decode, as in PIL).
func exifOrientation(data []byte) int {
	i := 2 // after SOI
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return 0
		}
		marker := data[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan / end of image: no APP1 before
			return 0
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return 0
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			if v := tiffOrientation(seg[6:]); v != 0 {
				return v
			}
		}
		i += 2 + n
	}
	return 0
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF block.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	off := int(bo.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 0
	}
	n := int(bo.Uint16(t[off:]))
	for e := range n {
		p := off + 2 + 12*e
		if p+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[p:]) != 0x0112 {
			continue
		}
		if typ, cnt := bo.Uint16(t[p+2:]), bo.Uint32(t[p+4:]); typ != 3 || cnt != 1 {
			return 0
		}
		if v := int(bo.Uint16(t[p+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}

// transpose applies PIL ImageOps.exif_transpose's method for an orientation:
// 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE,
// 8 ROTATE_90 (PIL rotations are counter-clockwise).
func transpose(m rgbImage, orientation int) rgbImage {
	if orientation < 2 || orientation > 8 {
		return m
	}
	w, h := m.W, m.H
	ow, oh := w, h
	if orientation >= 5 {
		ow, oh = h, w
	}
	out := rgbImage{W: ow, H: oh, Pix: make([]uint8, len(m.Pix))}
	for y := range oh {
		for x := range ow {
			var sx, sy int
			switch orientation {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5: // transpose: out(x, y) = in(y, x)
				sx, sy = y, x
			case 6: // rotate 270° ccw = 90° clockwise
				sx, sy = y, h-1-x
			case 7: // transverse
				sx, sy = w-1-y, h-1-x
			case 8: // rotate 90° ccw
				sx, sy = w-1-y, x
			}
			copy(out.Pix[3*(y*ow+x):3*(y*ow+x)+3], m.Pix[3*(sy*w+sx):])
		}
	}
	return out
}
