/// A report the server accepted: when, from which address, and what the node said. The `NODE` line is the node's
/// own word, so the address it came from is kept beside it. One line of `reports.jsonl` each, and what
/// `/status.json` shows as a node's `reported`.
public struct ReceivedReport: Sendable, Equatable, Codable {
    /// UTC, ISO 8601 to the millisecond (`2026-12-03T10:15:30.123Z`): such times sort as text.
    public var time: String
    /// The address the report came from, without the port.
    public var client: String
    public var report: NodeReport

    public init(time: String, client: String, report: NodeReport) {
        self.time = time
        self.client = client
        self.report = report
    }
}

/// A report as JSON: `node` (the MAC, colon-separated), `role`, `base`, `layers` (`file`, and `type` or `failure`),
/// `plugins` and `expected` (`name`, `version`), `mismatch`, `uptime`; absent lines are absent keys (`plugins` is
/// always there, empty for `NO PLUGINS`).
extension NodeReport: Codable {
    enum CodingKeys: String, CodingKey {
        case node, role, base, layers, plugins, expected, mismatch, uptime
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        let nodeText = try values.decodeIfPresent(String.self, forKey: .node)
        let node = try nodeText.map { text in
            guard let mac = MACAddress(text) else {
                throw DecodingError.dataCorruptedError(forKey: .node, in: values, debugDescription: "\"\(text)\" is not a MAC address")
            }
            return mac
        }
        self.init(
            node: node, role: try values.decodeIfPresent(String.self, forKey: .role), base: try values.decodeIfPresent(String.self, forKey: .base),
            layers: try values.decodeIfPresent([Layer].self, forKey: .layers) ?? [], plugins: try values.decodeIfPresent([Plugin].self, forKey: .plugins) ?? [],
            expected: try values.decodeIfPresent([Plugin].self, forKey: .expected), mismatch: try values.decodeIfPresent(String.self, forKey: .mismatch),
            uptime: try values.decodeIfPresent(Double.self, forKey: .uptime))
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: CodingKeys.self)
        try values.encodeIfPresent(node?.description, forKey: .node)
        try values.encodeIfPresent(role, forKey: .role)
        try values.encodeIfPresent(base, forKey: .base)
        if !layers.isEmpty { try values.encode(layers, forKey: .layers) }
        try values.encode(plugins, forKey: .plugins)
        try values.encodeIfPresent(expected, forKey: .expected)
        try values.encodeIfPresent(mismatch, forKey: .mismatch)
        try values.encodeIfPresent(uptime, forKey: .uptime)
    }
}

extension NodeReport.Plugin: Codable {
    enum CodingKeys: String, CodingKey {
        case name, version
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try values.decode(String.self, forKey: .name), version: try values.decode(String.self, forKey: .version))
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: CodingKeys.self)
        try values.encode(name, forKey: .name)
        try values.encode(version, forKey: .version)
    }
}

extension NodeReport.Layer: Codable {
    enum CodingKeys: String, CodingKey {
        case file, type, failure
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            file: try values.decode(String.self, forKey: .file), type: try values.decodeIfPresent(String.self, forKey: .type),
            failure: try values.decodeIfPresent(String.self, forKey: .failure))
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: CodingKeys.self)
        try values.encode(file, forKey: .file)
        try values.encodeIfPresent(type, forKey: .type)
        try values.encodeIfPresent(failure, forKey: .failure)
    }
}
