import AudienceCore
internal import CAudienceProto

/// `audience.v1.AnalyzeRequest` / `AnalyzeResponse` <-> Swift.
enum ProtoAnalyze {
  static func decode(_ p: UnsafeMutablePointer<Audience__V1__AnalyzeRequest>) throws(AudienceError) -> AnalyzeQuery {
    let m = p.pointee
    let cookie = try CStrings.read(m.cookie, "cookie")
    var features: [KMeansFeature] = []
    for (i, name) in try CStrings.read(m.n_kmeans_features, m.kmeans_features, "kmeans_features").enumerated() {
      guard let f = KMeansFeature(rawValue: name.lowercased()) else {
        throw .invalidField("kmeans_features[\(i)]", "\"\(name.prefix(40))\" is not a feature (age, income)")
      }
      features.append(f)
    }
    return AnalyzeQuery(
      filter: try ProtoFilter.decode(m.filter, where: m.where),
      cookie: cookie.isEmpty ? nil : cookie,
      topN: m.top_n == 0 ? 20 : Int(m.top_n), ageBins: m.age_bins == 0 ? 20 : Int(m.age_bins),
      k: m.no_kmeans != 0 ? 0 : (m.k == 0 ? 3 : Int(m.k)), features: features.isEmpty ? [.age] : features)
  }

  static func encode(_ q: AnalyzeQuery, _ arena: Arena) -> UnsafeMutablePointer<Audience__V1__AnalyzeRequest> {
    let m = arena.allocate(Audience__V1__AnalyzeRequest.self)
    audience__v1__analyze_request__init(m)
    m.pointee.filter = q.filter.map { ProtoFilter.encode($0, arena) }
    m.pointee.cookie = arena.string(q.cookie)
    m.pointee.top_n = UInt32(clamping: q.topN)
    m.pointee.age_bins = UInt32(clamping: q.ageBins)
    m.pointee.k = UInt32(clamping: q.k)
    m.pointee.no_kmeans = q.k == 0 ? 1 : 0
    m.pointee.n_kmeans_features = q.features.count
    m.pointee.kmeans_features = arena.strings(q.features.map(\.rawValue))
    return m
  }

  static func encode(_ r: AudienceReport, _ arena: Arena) -> UnsafeMutablePointer<Audience__V1__AnalyzeResponse> {
    let m = arena.allocate(Audience__V1__AnalyzeResponse.self)
    audience__v1__analyze_response__init(m)
    func counts(_ xs: [NamedCount]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Audience__V1__NamedCount>?>?) {
      (xs.count, arena.messages(xs) { x in
        let c = arena.allocate(Audience__V1__NamedCount.self)
        audience__v1__named_count__init(c)
        c.pointee.name = arena.string(x.name)
        c.pointee.count = UInt64(x.count)
        return c
      })
    }
    m.pointee.total = UInt64(r.total)
    (m.pointee.n_countries, m.pointee.countries) = counts(r.countries)
    (m.pointee.n_states, m.pointee.states) = counts(r.states)
    (m.pointee.n_cities, m.pointee.cities) = counts(r.cities)
    (m.pointee.n_genders, m.pointee.genders) = counts(r.genders)
    (m.pointee.n_education, m.pointee.education) = counts(r.education)
    (m.pointee.n_income_bands, m.pointee.income_bands) = counts(r.incomeBands)
    (m.pointee.n_interests, m.pointee.interests) = counts(r.interests)
    (m.pointee.n_categories, m.pointee.categories) = counts(r.categories)
    m.pointee.n_age_histogram = r.ageHistogram.count
    m.pointee.age_histogram = arena.messages(r.ageHistogram) { b in
      let h = arena.allocate(Audience__V1__HistogramBin.self)
      audience__v1__histogram_bin__init(h)
      h.pointee.from = b.from
      h.pointee.to = b.to
      h.pointee.count = UInt64(b.count)
      return h
    }
    m.pointee.with_age = UInt64(r.withAge)
    if let km = r.kmeans {
      let k = arena.allocate(Audience__V1__KMeansResult.self)
      audience__v1__kmeans_result__init(k)
      k.pointee.n_features = km.features.count
      k.pointee.features = arena.strings(km.features.map(\.rawValue))
      k.pointee.n_centroids = km.centroids.count
      k.pointee.centroids = arena.messages(km.centroids) { values in
        let c = arena.allocate(Audience__V1__Centroid.self)
        audience__v1__centroid__init(c)
        let v = arena.allocate(Double.self, count: values.count)
        for (i, x) in values.enumerated() { v[i] = x }
        c.pointee.n_values = values.count
        c.pointee.values = v
        return c
      }
      let sizes = arena.allocate(UInt64.self, count: km.sizes.count)
      for (i, s) in km.sizes.enumerated() { sizes[i] = UInt64(s) }
      k.pointee.n_sizes = km.sizes.count
      k.pointee.sizes = sizes
      k.pointee.inertia = km.inertia
      k.pointee.n_age_clusters = km.ageClusters.count
      k.pointee.age_clusters = arena.messages(km.ageClusters) { a in
        let c = arena.allocate(Audience__V1__AgeCluster.self)
        audience__v1__age_cluster__init(c)
        c.pointee.age = UInt32(a.age)
        c.pointee.cluster = UInt32(a.cluster)
        c.pointee.count = UInt64(a.count)
        return c
      }
      m.pointee.kmeans = k
    }
    return m
  }

  static func decode(_ p: UnsafeMutablePointer<Audience__V1__AnalyzeResponse>) throws(AudienceError) -> AudienceReport {
    let m = p.pointee
    func counts(_ n: Int, _ xs: UnsafeMutablePointer<UnsafeMutablePointer<Audience__V1__NamedCount>?>?) throws(AudienceError) -> [NamedCount] {
      var out: [NamedCount] = []
      for i in 0..<n { out.append(NamedCount(try CStrings.read(xs![i]!.pointee.name, "name"), Int(clamping: xs![i]!.pointee.count))) }
      return out
    }
    var r = AudienceReport(total: Int(clamping: m.total))
    r.countries = try counts(m.n_countries, m.countries)
    r.states = try counts(m.n_states, m.states)
    r.cities = try counts(m.n_cities, m.cities)
    r.genders = try counts(m.n_genders, m.genders)
    r.education = try counts(m.n_education, m.education)
    r.incomeBands = try counts(m.n_income_bands, m.income_bands)
    r.interests = try counts(m.n_interests, m.interests)
    r.categories = try counts(m.n_categories, m.categories)
    r.ageHistogram = (0..<m.n_age_histogram).map { i in
      let b = m.age_histogram[i]!.pointee
      return HistogramBin(from: b.from, to: b.to, count: Int(clamping: b.count))
    }
    r.withAge = Int(clamping: m.with_age)
    if let k = m.kmeans?.pointee {
      let features = try CStrings.read(k.n_features, k.features, "features").compactMap(KMeansFeature.init(rawValue:))
      let centroids = (0..<k.n_centroids).map { i in
        let c = k.centroids[i]!.pointee
        return (0..<c.n_values).map { c.values[$0] }
      }
      r.kmeans = KMeansSummary(
        features: features, centroids: centroids, sizes: (0..<k.n_sizes).map { Int(clamping: k.sizes[$0]) }, inertia: k.inertia,
        ageClusters: (0..<k.n_age_clusters).map { i in
          let a = k.age_clusters[i]!.pointee
          return KMeansSummary.AgeCluster(age: Int(a.age), cluster: Int(a.cluster), count: Int(clamping: a.count))
        })
    }
    return r
  }
}
