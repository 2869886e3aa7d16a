// LinePlot.swift — a line chart drawn into an ``RGBImage``: axes from zero, "nice" ticks (1, 2, 5 × 10ⁿ),
// grid lines, one coloured line per series and a legend. `alloc-check report` plots coverage (libFuzzer's
// `cov`) against seconds with one line per fuzz target.

public struct LinePlot: Sendable {
  public struct Series: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    public init(name: String, points: [(x: Double, y: Double)]) {
      self.name = name
      self.points = points
    }
  }

  public var title: String
  public var xLabel: String
  public var yLabel: String
  public var series: [Series]
  public var width = 900
  public var height = 540

  public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.series = series
  }

  static let palette: [(UInt8, UInt8, UInt8)] = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14),
                                                  (148, 103, 189), (140, 86, 75), (227, 119, 194), (23, 190, 207)]

  /// The step of about `count` ticks over 0…`maximum`: 1, 2 or 5 times a power of ten.
  public static func tickStep(_ maximum: Double, count: Int = 6) -> Double {
    guard maximum > 0 else { return 1 }
    let raw = maximum / Double(count)
    var p = 1.0
    while p * 10 <= raw { p *= 10 }
    while p > raw { p /= 10 }
    for m in [1.0, 2.0, 5.0, 10.0] where m * p >= raw { return m * p }
    return 10 * p
  }

  static func label(_ v: Double) -> String {
    v == v.rounded() ? String(Int(v)) : String((v * 10).rounded() / 10)
  }

  public func render() -> RGBImage {
    var img = RGBImage(width: width, height: height)
    let left = 80, right = width - 30, top = 50, bottom = height - 70
    let maxX = max(series.flatMap { $0.points.map(\.x) }.max() ?? 1, 1)
    let maxY = max(series.flatMap { $0.points.map(\.y) }.max() ?? 1, 1)
    let xStep = Self.tickStep(maxX), yStep = Self.tickStep(maxY * 1.05)
    let xEnd = (maxX / xStep).rounded(.up) * xStep, yEnd = (maxY * 1.05 / yStep).rounded(.up) * yStep
    func px(_ x: Double) -> Int { left + Int((x / xEnd * Double(right - left)).rounded()) }
    func py(_ y: Double) -> Int { bottom - Int((y / yEnd * Double(bottom - top)).rounded()) }
    let black: (UInt8, UInt8, UInt8) = (0, 0, 0), grid: (UInt8, UInt8, UInt8) = (225, 225, 225)

    var t = 0.0
    while t <= xEnd + xStep / 2 {
      let x = px(t)
      img.line(x, top, x, bottom, grid)
      img.line(x, bottom, x, bottom + 5, black)
      let s = Self.label(t)
      img.text(s, x: x - RGBImage.textWidth(s) / 2, y: bottom + 10, black)
      t += xStep
    }
    t = 0
    while t <= yEnd + yStep / 2 {
      let y = py(t)
      img.line(left, y, right, y, grid)
      img.line(left - 5, y, left, y, black)
      let s = Self.label(t)
      img.text(s, x: left - 10 - RGBImage.textWidth(s), y: y - 3, black)
      t += yStep
    }
    img.line(left, top, left, bottom, black)
    img.line(left, bottom, right, bottom, black)
    img.text(title, x: (width - RGBImage.textWidth(title, scale: 2)) / 2, y: 15, black, scale: 2)
    img.text(xLabel, x: (left + right - RGBImage.textWidth(xLabel)) / 2, y: bottom + 30, black)
    img.text(yLabel, x: 10, y: top - 20, black)

    for (k, s) in series.enumerated() {
      let c = Self.palette[k % Self.palette.count]
      let pts = s.points.sorted { $0.x < $1.x }
      for (a, b) in zip(pts, pts.dropFirst()) { img.line(px(a.x), py(a.y), px(b.x), py(b.y), c, thickness: 2) }
      if pts.count == 1 { img.line(px(pts[0].x), py(pts[0].y), px(pts[0].x), py(pts[0].y), c, thickness: 4) }
      // Legend, top right inside the plot.
      let ly = top + 10 + 14 * k
      img.line(right - 160, ly + 3, right - 140, ly + 3, c, thickness: 3)
      img.text(s.name, x: right - 132, y: ly, black)
    }
    return img
  }
}
