/// A person's stored records: found through their cookies' chains (`RecordLinks`), and erased
/// with everything else of them.
extension IdentityGraph {
  /// Erases a profile: its cookies, emails, raw records, content ids and index entries.
  /// Other profiles are untouched (a profile is a whole connected component).
  /// - Parameters:
  ///   - id: a live profile.
  ///   - known: its records' sequence numbers when the caller already has them (`recordSeqs(of:)`).
  /// - Returns: the sequence numbers of the records it held (the store deletes those rows).
  @discardableResult
  public mutating func forget(_ id: ProfileID, records known: [UInt64]? = nil) -> [UInt64] {
    guard id >= 0, id < profiles.count, let p = profiles[id] else { return [] }
    let seqs = known ?? recordSeqs(of: id)
    removeContentIDs(of: seqs)
    for seq in seqs { records[Int(seq)] = nil }
    recordLinks.erase(seqs)
    recordCount -= seqs.count
    for c in p.cookies {
      cookies[c] = nil
      splitCookies.remove(c)  // nothing of an erased person is kept, not even that it was split
    }
    for e in p.emails {
      if (emails[e]?.cookies.count ?? 0) >= 2 { repeatedEmailCount -= 1 }
      emails[e] = nil
    }
    profiles[id] = nil
    if !replaying { index.remove(id) }
    profileCount -= 1
    return seqs
  }

  /// Removes the content ids of records about to be erased: each by its key, noted with the
  /// record (`RecordLinks`); by reading every content id only if one was not noted (which
  /// should not happen).
  private mutating func removeContentIDs(of seqs: [UInt64]) {
    var unnoted = false
    for seq in seqs {
      guard let id = recordLinks.contentID(of: seq), contentIDs[id] == seq else {
        unnoted = true
        continue
      }
      contentIDs[id] = nil
    }
    assert(!unnoted, "IdentityGraph: a stored record's content id was not noted")
    if unnoted {
      let gone = Set(seqs)
      contentIDs.removeAll { gone.contains($1) }
    }
  }

  /// Sequence numbers of a profile's raw records, oldest first: its cookies' chains, walked.
  public func recordSeqs(of id: ProfileID) -> [UInt64] {
    let out = chainedRecordSeqs(of: id)
    assert(out == recordSeqsScanning(of: id), "IdentityGraph: a cookie's chain of records is not its records")
    return out
  }

  /// `recordSeqs(of:)`, unchecked.
  func chainedRecordSeqs(of id: ProfileID) -> [UInt64] {
    guard id >= 0, id < profiles.count, let p = profiles[id] else { return [] }
    var out: [UInt64] = []
    out.reserveCapacity(p.recordCount)
    for c in p.cookies {
      guard let first = cookies[c]?.firstSeq else { continue }
      recordLinks.seqs(first: first, into: &out)
    }
    out.sort()
    return out
  }

  /// `recordSeqs(of:)` found by reading every record (what it did before the chains; for checks).
  func recordSeqsScanning(of id: ProfileID) -> [UInt64] {
    guard id >= 0, id < profiles.count, let p = profiles[id] else { return [] }
    let mine = Set(p.cookies)
    var out: [UInt64] = []
    for (slot, r) in records.enumerated() where r.map({ mine.contains($0.cookie) }) ?? false { out.append(UInt64(slot)) }
    return out
  }
}
