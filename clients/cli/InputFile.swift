import AudienceWire
internal import Glibc

/// The check made on each input before an ingest sends anything.
enum InputFile {
  /// Throws INVALID_ARGUMENT, naming the path, when it cannot be read as a file ("-", standard
  /// input, always can).
  static func check(_ path: String) throws(WireStatus) {
    guard path != "-" else { return }
    func refuse() -> WireStatus { WireStatus(.invalidArgument, "cannot open \(path): \(String(cString: strerror(errno)))") }
    var st = stat()
    guard stat(path, &st) == 0 else { throw refuse() }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw WireStatus(.invalidArgument, "\(path) is a directory, not a file") }
    // A named pipe is not opened here: opening it again to read would find its writer gone (it
    // got SIGPIPE when this closed it), and wait for ever.
    guard (st.st_mode & S_IFMT) == S_IFREG else {
      guard access(path, R_OK) == 0 else { throw refuse() }
      return
    }
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw refuse() }
    close(fd)
  }
}
