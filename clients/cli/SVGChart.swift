internal import Glibc

/// Small SVG charts in the notebook's style (seaborn-like palettes, titles, axis labels, ticks).
enum SVGChart {
  static let viridis = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"]
  static let magma = ["#0b0724", "#3b0f70", "#1c1044", "#4f127b", "#812581", "#b5367a", "#e55064", "#fb8761", "#fec287", "#fcfdbf"]
  static let coolwarm = ["#3b4cc0", "#7396f5", "#b0cbfc", "#dcdddd", "#f6bfa6", "#ea7b60", "#b40426"]
  static let set2 = ["#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f", "#e5c494", "#b3b3b3"]

  /// Colors spread over a palette, one per bar.
  /// Sampled at the centers of n equal slices, as seaborn's `color_palette(name, n)` does, so
  /// the darkest and lightest extremes are not used.
  static func colors(_ palette: [String], _ n: Int) -> [String] {
    guard n > 0 else { return [] }
    return (0..<n).map { palette[min(palette.count - 1, Int((Double($0) + 0.5) / Double(n) * Double(palette.count)))] }
  }

  static func escape(_ s: String) -> String {
    s.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;").replacingAll("\"", "&quot;")
  }

  /// "Nice" axis ticks from 0 to at least `max`.
  static func ticks(_ max: Double) -> [Double] {
    guard max > 0 else { return [0, 1] }
    let raw = max / 5
    let magnitude = pow10(Int((log10(raw)).rounded(.down)))
    let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
    var t: [Double] = []
    var v = 0.0
    while v < max + step * 0.999 { t.append(v); v += step }
    return t
  }

  static func pow10(_ e: Int) -> Double { pow(10, Double(e)) }

  static func label(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e12 {
      let n = Int(v)
      return n >= 10_000 ? (n % 1000 == 0 ? "\(n / 1000)k" : String(n)) : String(n)
    }
    return String((v * 100).rounded() / 100)
  }

  static func frame(_ w: Int, _ h: Int, title: String, body: String) -> String {
    """
    <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(w) \(h)" width="\(w)" height="\(h)" role="img" aria-label="\(escape(title))">
    <rect width="\(w)" height="\(h)" fill="#ffffff"/>
    <text x="\(w / 2)" y="28" text-anchor="middle" class="title">\(escape(title))</text>
    \(body)
    </svg>
    """
  }

  /// Vertical bars with rotated category labels (seaborn barplot).
  static func verticalBars(title: String, xLabel: String, yLabel: String, items: [(String, Int)], palette: [String]) -> String {
    let w = 900, h = 460, left = 80, right = 20, top = 50, bottom = 130
    let plotW = Double(w - left - right), plotH = Double(h - top - bottom)
    let maxV = Double(items.map(\.1).max() ?? 1)
    let t = ticks(maxV)
    let scale = plotH / (t.last ?? 1)
    var body = axes(left: left, top: top, plotW: plotW, plotH: plotH, ticks: t, scale: scale, horizontal: false)
    let slot = plotW / Double(max(1, items.count))
    for (i, ((name, v), color)) in zip(items, colors(palette, items.count)).enumerated() {
      let x = Double(left) + slot * Double(i) + slot * 0.1
      let bh = Double(v) * scale
      let y = Double(top) + plotH - bh
      body += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(slot * 0.8))\" height=\"\(f(bh))\" fill=\"\(color)\"><title>\(escape(name)): \(v)</title></rect>\n"
      let lx = x + slot * 0.4, ly = Double(top) + plotH + 12
      body += "<text x=\"\(f(lx))\" y=\"\(f(ly))\" class=\"tick\" text-anchor=\"end\" transform=\"rotate(-45 \(f(lx)) \(f(ly)))\">\(escape(short(name)))</text>\n"
    }
    body += axisLabels(w: w, h: h, left: left, top: top, plotH: plotH, xLabel: xLabel, yLabel: yLabel, xLabelY: h - 12)
    return frame(w, h, title: title, body: body)
  }

  /// Horizontal bars (seaborn barplot with y categories, or countplot(y=...)).
  static func horizontalBars(title: String, xLabel: String, yLabel: String, items: [(String, Int)], palette: [String]) -> String {
    let rowH = 26, left = 170, right = 40, top = 50, bottom = 60, w = 900
    let h = top + bottom + max(1, items.count) * rowH
    let plotW = Double(w - left - right), plotH = Double(h - top - bottom)
    let maxV = Double(items.map(\.1).max() ?? 1)
    let t = ticks(maxV)
    let scale = plotW / (t.last ?? 1)
    var body = axes(left: left, top: top, plotW: plotW, plotH: plotH, ticks: t, scale: scale, horizontal: true)
    for (i, ((name, v), color)) in zip(items, colors(palette, items.count)).enumerated() {
      let y = Double(top + i * rowH) + Double(rowH) * 0.1
      body += "<rect x=\"\(left)\" y=\"\(f(y))\" width=\"\(f(Double(v) * scale))\" height=\"\(f(Double(rowH) * 0.8))\" fill=\"\(color)\"><title>\(escape(name)): \(v)</title></rect>\n"
      body += "<text x=\"\(left - 6)\" y=\"\(f(y + Double(rowH) * 0.55))\" class=\"tick\" text-anchor=\"end\">\(escape(short(name)))</text>\n"
      body += "<text x=\"\(f(Double(left) + Double(v) * scale + 4))\" y=\"\(f(y + Double(rowH) * 0.55))\" class=\"value\">\(v)</text>\n"
    }
    body += axisLabels(w: w, h: h, left: left, top: top, plotH: plotH, xLabel: xLabel, yLabel: yLabel, xLabelY: h - 14, yLabelX: 16)
    return frame(w, h, title: title, body: body)
  }

  /// A histogram: contiguous bars over numeric edges.
  static func histogram(title: String, xLabel: String, yLabel: String, bins: [(from: Double, to: Double, count: Int)], color: String) -> String {
    let w = 900, h = 440, left = 80, right = 20, top = 50, bottom = 70
    let plotW = Double(w - left - right), plotH = Double(h - top - bottom)
    guard let lo = bins.first?.from, let hi = bins.last?.to, hi > lo else {
      return frame(w, h, title: title, body: "<text x=\"\(w / 2)\" y=\"\(h / 2)\" text-anchor=\"middle\">no data</text>")
    }
    let t = ticks(Double(bins.map(\.count).max() ?? 1))
    let scale = plotH / (t.last ?? 1)
    var body = axes(left: left, top: top, plotW: plotW, plotH: plotH, ticks: t, scale: scale, horizontal: false)
    let xs = { (v: Double) in Double(left) + (v - lo) / (hi - lo) * plotW }
    for b in bins {
      let bh = Double(b.count) * scale
      body += "<rect x=\"\(f(xs(b.from)))\" y=\"\(f(Double(top) + plotH - bh))\" width=\"\(f(max(0.5, xs(b.to) - xs(b.from))))\" height=\"\(f(bh))\" fill=\"\(color)\" fill-opacity=\"0.75\" stroke=\"#ffffff\" stroke-width=\"0.8\"><title>\(label(b.from))–\(label(b.to)): \(b.count)</title></rect>\n"
    }
    let step = ticks(hi - lo).dropFirst().first ?? 1
    for v in stride(from: (lo / step).rounded(.up) * step, through: hi, by: step) {
      body += "<text x=\"\(f(xs(v)))\" y=\"\(f(Double(top) + plotH + 18))\" class=\"tick\" text-anchor=\"middle\">\(label(v))</text>\n"
    }
    body += axisLabels(w: w, h: h, left: left, top: top, plotH: plotH, xLabel: xLabel, yLabel: yLabel, xLabelY: h - 16)
    return frame(w, h, title: title, body: body)
  }

  /// The notebook's cluster scatter: x = age (0...100), y = cluster, colored by cluster.
  static func clusterScatter(title: String, points: [(age: Int, cluster: Int, count: Int)], k: Int) -> String {
    let w = 900, h = 420, left = 80, right = 120, top = 50, bottom = 70
    let plotW = Double(w - left - right), plotH = Double(h - top - bottom)
    let maxCluster = max(1, k - 1)
    let maxCount = Double(points.map(\.count).max() ?? 1)
    let palette = Array(set2.prefix(max(1, min(k, 7))))
    var body = ""
    let xs = { (a: Double) in Double(left) + a / 100 * plotW }
    let ys = { (c: Double) in Double(top) + plotH - (c + 0.25) / (Double(maxCluster) + 0.5) * plotH }
    body += "<line x1=\"\(left)\" y1=\"\(f(Double(top) + plotH))\" x2=\"\(f(Double(left) + plotW))\" y2=\"\(f(Double(top) + plotH))\" class=\"axis\"/>\n"
    body += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(f(Double(top) + plotH))\" class=\"axis\"/>\n"
    for a in stride(from: 0, through: 100, by: 20) {
      body += "<line x1=\"\(f(xs(Double(a))))\" y1=\"\(top)\" x2=\"\(f(xs(Double(a))))\" y2=\"\(f(Double(top) + plotH))\" class=\"grid\"/>\n"
      body += "<text x=\"\(f(xs(Double(a))))\" y=\"\(f(Double(top) + plotH + 18))\" class=\"tick\" text-anchor=\"middle\">\(a)</text>\n"
    }
    for c in 0...maxCluster {
      body += "<text x=\"\(left - 8)\" y=\"\(f(ys(Double(c)) + 4))\" class=\"tick\" text-anchor=\"end\">\(c)</text>\n"
    }
    for p in points where p.age <= 100 {
      let r = 3 + 9 * (Double(p.count) / maxCount).squareRoot()
      body += "<circle cx=\"\(f(xs(Double(p.age))))\" cy=\"\(f(ys(Double(p.cluster))))\" r=\"\(f(r))\" fill=\"\(palette[p.cluster % palette.count])\" fill-opacity=\"0.8\" stroke=\"#333\" stroke-width=\"0.4\"><title>age \(p.age): \(p.count) users, cluster \(p.cluster)</title></circle>\n"
    }
    for c in 0..<k {
      let y = top + 10 + c * 20
      body += "<circle cx=\"\(w - right + 20)\" cy=\"\(y)\" r=\"6\" fill=\"\(palette[c % palette.count])\"/><text x=\"\(w - right + 32)\" y=\"\(y + 4)\" class=\"tick\">Cluster \(c)</text>\n"
    }
    body += axisLabels(w: w - right + 60, h: h, left: left, top: top, plotH: plotH, xLabel: "Age", yLabel: "Cluster", xLabelY: h - 16)
    return frame(w, h, title: title, body: body)
  }

  static func axes(left: Int, top: Int, plotW: Double, plotH: Double, ticks t: [Double], scale: Double, horizontal: Bool) -> String {
    var s = ""
    for v in t {
      if horizontal {
        let x = Double(left) + v * scale
        s += "<line x1=\"\(f(x))\" y1=\"\(top)\" x2=\"\(f(x))\" y2=\"\(f(Double(top) + plotH))\" class=\"grid\"/>\n"
        s += "<text x=\"\(f(x))\" y=\"\(f(Double(top) + plotH + 18))\" class=\"tick\" text-anchor=\"middle\">\(label(v))</text>\n"
      } else {
        let y = Double(top) + plotH - v * scale
        s += "<line x1=\"\(left)\" y1=\"\(f(y))\" x2=\"\(f(Double(left) + plotW))\" y2=\"\(f(y))\" class=\"grid\"/>\n"
        s += "<text x=\"\(left - 8)\" y=\"\(f(y + 4))\" class=\"tick\" text-anchor=\"end\">\(label(v))</text>\n"
      }
    }
    s += "<line x1=\"\(left)\" y1=\"\(f(Double(top) + plotH))\" x2=\"\(f(Double(left) + plotW))\" y2=\"\(f(Double(top) + plotH))\" class=\"axis\"/>\n"
    s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(f(Double(top) + plotH))\" class=\"axis\"/>\n"
    return s
  }

  static func axisLabels(w: Int, h: Int, left: Int, top: Int, plotH: Double, xLabel: String, yLabel: String, xLabelY: Int, yLabelX: Int = 22) -> String {
    let cy = Double(top) + plotH / 2
    return "<text x=\"\(f(Double(left) + Double(w - left) / 2))\" y=\"\(xLabelY)\" text-anchor=\"middle\" class=\"label\">\(escape(xLabel))</text>\n"
      + "<text x=\"\(yLabelX)\" y=\"\(f(cy))\" text-anchor=\"middle\" class=\"label\" transform=\"rotate(-90 \(yLabelX) \(f(cy)))\">\(escape(yLabel))</text>\n"
  }

  static func short(_ s: String) -> String { s.count > 22 ? String(s.prefix(21)) + "…" : s }
  static func f(_ x: Double) -> String { String((x * 10).rounded() / 10) }
}

extension String {
  func replacingAll(_ a: String, _ b: String) -> String {
    var out = ""
    var rest = Substring(self)
    while let r = rest.range(of: a) {
      out += rest[..<r.lowerBound] + b
      rest = rest[r.upperBound...]
    }
    return out + rest
  }
}

extension Substring {
  func range(of needle: String) -> Range<Substring.Index>? {
    guard !needle.isEmpty else { return nil }
    var i = startIndex
    while i < endIndex {
      if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
      i = index(after: i)
    }
    return nil
  }
}
