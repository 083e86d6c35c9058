package jpeg

import "encoding/binary"

// exifOrientation reads tag 0x0112 (Orientation) from IFD0 of a TIFF
// structure (the payload of an "Exif\0\0" APP1 segment). It returns 1..8, or 0
// when the tag is absent, malformed or out of range. Every offset is checked
// against len(tiff).
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(tiff[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int64(bo.Uint32(tiff[4:8]))
	if off < 8 || off+2 > int64(len(tiff)) {
		return 0
	}
	n := int64(bo.Uint16(tiff[off:]))
	for i := int64(0); i < n; i++ {
		e := off + 2 + 12*i
		if e+12 > int64(len(tiff)) {
			return 0
		}
		if bo.Uint16(tiff[e:]) != 0x0112 {
			continue
		}
		typ, count := bo.Uint16(tiff[e+2:]), bo.Uint32(tiff[e+4:])
		if count < 1 {
			return 0
		}
		var v uint32
		switch typ {
		case 3: // SHORT
			v = uint32(bo.Uint16(tiff[e+8:]))
		case 4: // LONG
			v = bo.Uint32(tiff[e+8:])
		default:
			return 0
		}
		if v >= 1 && v <= 8 {
			return int(v)
		}
		return 0
	}
	return 0
}
