// PNGImage.swift — an RGB raster and a PNG writer with no dependencies, for `alloc-check report`'s
// coverage plot: 8-bit truecolour, one IDAT holding a zlib stream of *stored* (uncompressed) deflate
// blocks, each row with filter byte 0; CRC-32 per chunk and Adler-32 over the raw data (RFC 1950/1951,
// PNG spec §5). A few hundred kilobytes per plot: size does not matter here, being obviously right does.

/// A width × height RGB image, row-major, 3 bytes per pixel.
public struct RGBImage: Sendable {
  public let width: Int
  public let height: Int
  public private(set) var pixels: [UInt8]

  public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
    precondition(width > 0 && height > 0, "RGBImage: empty image")
    self.width = width
    self.height = height
    pixels = [UInt8](repeating: 0, count: width * height * 3)
    for i in 0..<(width * height) {
      pixels[3 * i] = fill.0
      pixels[3 * i + 1] = fill.1
      pixels[3 * i + 2] = fill.2
    }
  }

  /// Sets one pixel; points outside the image are ignored (lines may be clipped).
  public mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
    guard x >= 0, y >= 0, x < width, y < height else { return }
    let i = 3 * (y * width + x)
    pixels[i] = c.0
    pixels[i + 1] = c.1
    pixels[i + 2] = c.2
  }

  public func pixel(_ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) {
    let i = 3 * (y * width + x)
    return (pixels[i], pixels[i + 1], pixels[i + 2])
  }

  /// A straight line (Bresenham), `thickness` pixels wide.
  public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8), thickness: Int = 1) {
    var x = x0, y = y0
    let dx = abs(x1 - x0), dy = -abs(y1 - y0)
    let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
    var err = dx + dy
    while true {
      for ox in 0..<thickness { for oy in 0..<thickness { set(x + ox - thickness / 2, y + oy - thickness / 2, c) } }
      if x == x1 && y == y1 { break }
      let e2 = 2 * err
      if e2 >= dy { err += dy; x += sx }
      if e2 <= dx { err += dx; y += sy }
    }
  }

  /// `text` in the 5×7 font at (x, y) = top-left, scaled by `scale`; unknown characters draw as a box.
  public mutating func text(_ text: String, x: Int, y: Int, _ c: (UInt8, UInt8, UInt8), scale: Int = 1) {
    var cx = x
    for ch in text.lowercased() {
      let rows = BitmapFont.glyph(ch)
      for (r, bits) in rows.enumerated() {
        for col in 0..<5 where bits & (1 << (4 - col)) != 0 {
          for sx in 0..<scale { for sy in 0..<scale { set(cx + col * scale + sx, y + r * scale + sy, c) } }
        }
      }
      cx += 6 * scale
    }
  }

  /// Width in pixels of `text` drawn at `scale`.
  public static func textWidth(_ text: String, scale: Int = 1) -> Int { text.count * 6 * scale }
}

public enum PNG {
  /// The PNG file bytes of `image`.
  public static func encode(_ image: RGBImage) -> [UInt8] {
    var raw: [UInt8] = []
    raw.reserveCapacity((image.width * 3 + 1) * image.height)
    for y in 0..<image.height {
      raw.append(0)  // filter: none
      raw += image.pixels[(y * image.width * 3)..<((y + 1) * image.width * 3)]
    }
    var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    var ihdr: [UInt8] = []
    ihdr += bigEndian(UInt32(image.width))
    ihdr += bigEndian(UInt32(image.height))
    ihdr += [8, 2, 0, 0, 0]  // bit depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
    out += chunk("IHDR", ihdr)
    out += chunk("IDAT", zlibStored(raw))
    out += chunk("IEND", [])
    return out
  }

  /// A zlib stream of stored deflate blocks (at most 65,535 bytes each).
  public static func zlibStored(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x78, 0x01]  // deflate, 32 KiB window; FCHECK makes 0x7801 a multiple of 31
    var start = 0
    repeat {
      let n = min(65_535, data.count - start)
      let final: UInt8 = start + n == data.count ? 1 : 0
      out.append(final)  // BFINAL, BTYPE = 00 (stored)
      out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
      out += data[start..<(start + n)]
      start += n
    } while start < data.count
    out += bigEndian(adler32(data))
    return out
  }

  public static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let typeBytes = Array(type.utf8)
    return bigEndian(UInt32(data.count)) + typeBytes + data + bigEndian(crc32(typeBytes + data))
  }

  /// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as PNG chunks use.
  public static func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
      crc ^= UInt32(b)
      for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
  }

  /// Adler-32 (RFC 1950).
  public static func adler32(_ bytes: [UInt8]) -> UInt32 {
    var a: UInt32 = 1, b: UInt32 = 0
    for x in bytes {
      a = (a + UInt32(x)) % 65_521
      b = (b + a) % 65_521
    }
    return b << 16 | a
  }

  static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
}
