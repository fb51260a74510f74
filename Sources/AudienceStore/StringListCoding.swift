import AudienceCore

/// Encodes interests as a JSON array of strings (`["Tech","Gaming"]`), the form the
/// embedded database stores, readable by `sqlite3` and pandas alike.
enum StringListCoding {
  static func encode(_ values: [String]) -> String {
    var bytes: [UInt8] = []
    encode(values, into: &bytes)
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Appends the encoding's UTF-8 bytes.
  static func encode(_ values: [String], into out: inout [UInt8]) {
    var w = JSONWriter()
    w.stringList(values)
    out.append(contentsOf: w.take())
  }

  /// Decodes what `encode` wrote; nil when the text is not such an array.
  static func decode(_ text: String) -> [String]? {
    if text.utf8.contains(0x5C) { return decodeEscaped(text) }
    // No escapes: split the bytes at the quotes.
    return text.utf8.withContiguousStorageIfAvailable { bytes -> [String]? in
      let n = bytes.count
      guard n >= 2, bytes[0] == 0x5B else { return nil }
      if n == 2 { return bytes[1] == 0x5D ? [] : nil }
      var result: [String] = []
      var i = 1
      while true {
        guard i < n, bytes[i] == 0x22 else { return nil }
        i += 1
        let start = i
        while i < n, bytes[i] != 0x22 { i += 1 }
        guard i < n else { return nil }
        result.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
        i += 1
        guard i < n else { return nil }
        if bytes[i] == 0x2C { i += 1; continue }
        return bytes[i] == 0x5D && i == n - 1 ? result : nil
      }
    } ?? decodeEscaped(text)
  }

  /// `decode` for text with escapes, scalar by scalar.
  private static func decodeEscaped(_ text: String) -> [String]? {
    var scalars = Array(text.unicodeScalars)[...]
    guard scalars.popFirst() == "[" else { return nil }
    var result: [String] = []
    if scalars.first == "]" { return scalars.count == 1 ? [] : nil }
    while true {
      guard scalars.popFirst() == "\"" else { return nil }
      var s = String.UnicodeScalarView()
      while true {
        guard let c = scalars.popFirst() else { return nil }
        if c == "\"" { break }
        guard c == "\\" else { s.append(c); continue }
        switch scalars.popFirst() {
        case "\"": s.append("\"")
        case "\\": s.append("\\")
        case "/": s.append("/")
        case "n": s.append("\n")
        case "t": s.append("\t")
        case "r": s.append("\r")
        case "u":
          guard scalars.count >= 4, let v = UInt32(String(String.UnicodeScalarView(scalars.prefix(4))), radix: 16),
            let u = Unicode.Scalar(v)
          else { return nil }
          scalars = scalars.dropFirst(4)
          s.append(u)
        default: return nil
        }
      }
      result.append(String(s))
      switch scalars.popFirst() {
      case ",": continue
      case "]": return scalars.isEmpty ? result : nil
      default: return nil
      }
    }
  }
}
