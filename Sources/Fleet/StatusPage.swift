import Formats

/// The page `overlay serve` shows at `GET /`: the fleet's roles and nodes, what each node fetched in its last boot
/// and last reported, when it was last seen, and its drift, highlighted. Read-only and self-contained: one HTML
/// document with inline CSS, no script and nothing fetched from elsewhere, so it works without JavaScript and under
/// `Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'`. Everything that comes from a node or a
/// file is HTML-escaped.
enum StatusPage {
    /// The header fields the page is sent with.
    static let headers: [(name: String, value: String)] = [
        ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"), ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"),
    ]

    static let contentType = "text/html; charset=utf-8"

    private static let style = """
        body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em 2em; color: #1f2328; background: #fff; }
        h1 { font-size: 1.4em; margin: 0 0 .3em; } h2 { font-size: 1.15em; margin: 1.4em 0 .4em; }
        table { border-collapse: collapse; width: 100%; }
        th, td { border: 1px solid #d0d7de; padding: .3em .5em; text-align: left; vertical-align: top; }
        th { background: #f6f8fa; }
        code { font: 12px/1.4 ui-monospace, monospace; }
        ul { margin: 0; padding-left: 1.1em; }
        .summary { padding: .5em .8em; border-radius: 4px; display: inline-block; font-weight: 600; }
        .ok { background: #dafbe1; color: #116329; } .bad { background: #ffebe9; color: #a40e26; }
        tr.drift td { background: #fff5f4; } tr.drift td.mac { border-left: 4px solid #cf222e; }
        td.mac, td.time { white-space: nowrap; }
        .kind { font-weight: 600; color: #a40e26; } .none { color: #656d76; } .partial { color: #9a6700; font-weight: 600; }
        .meta { color: #656d76; }
        """

    static func html(_ status: FleetStatus) -> String {
        var out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<title>overlay serve: \(escape(status.fleet))</title>\n<style>\n\(style)\n</style>\n</head>\n<body>\n"
        out += "<h1>Fleet <code>\(escape(status.fleet))</code></h1>\n"
        out += "<p class=\"summary \(status.driftNodes == 0 ? "ok" : "bad")\">\(escape(status.summary))</p>\n"
        let reports =
            status.server.reports
            ? "reports on"
                + (status.server.advertise.map { " (nodes send them to \(escape($0))/report)" } ?? " (boot files fetched over HTTP name this server)")
            : "reports off (serve without --state)"
        out += "<p class=\"meta\">Server up \(escape(FleetStatus.duration(status.server.uptimeSeconds))), since \(escape(status.server.started)); "
        out += "\(reports); now \(escape(status.server.now)). MACs not listed boot "
        out += status.defaultRole.map { "role <code>\(escape($0))</code>" } ?? "nothing (no default role)"
        out += ".</p>\n"

        out += "<h2>Roles</h2>\n<table>\n<tr><th>Role</th><th>Overlays, in boot order</th><th>Listed nodes</th></tr>\n"
        for role in status.roles {
            let overlays =
                role.overlays.isEmpty
                ? "<span class=\"none\">none</span>"
                : "<ul>"
                    + role.overlays.map {
                        "<li>\(escape($0.name)) \(escape($0.version)) <span class=\"meta\">\(escape($0.kind)) <code>\(escape($0.file))</code> sha256:\(escape(String($0.sha256.prefix(12))))…</span></li>"
                    }.joined() + "</ul>"
            let nodes = role.nodes.isEmpty ? "<span class=\"none\">none</span>" : role.nodes.map { "<code>\(escape($0))</code>" }.joined(separator: " ")
            out +=
                "<tr><td><code>\(escape(role.name))</code>\(role.isDefault ? " <span class=\"meta\">(default)</span>" : "")</td><td>\(overlays)</td><td>\(nodes)</td></tr>\n"
        }
        out += "</table>\n"

        out +=
            "<h2>Nodes</h2>\n<table>\n<tr><th>MAC</th><th>Role</th><th>Last seen</th><th>Fetched in its last boot</th><th>Last report</th><th>Drift</th></tr>\n"
        for node in status.nodes {
            out += "<tr\(node.drift.isEmpty ? "" : " class=\"drift\"")>"
            out +=
                "<td class=\"mac\"><code>\(escape(node.mac ?? node.reported?.client ?? "?"))</code>\(node.listed ? "" : " <span class=\"meta\">(not listed)</span>")</td>"
            out += "<td>\(node.role.map { "<code>\(escape($0))</code>" } ?? "<span class=\"none\">refused</span>")</td>"
            out += "<td class=\"time\">\(node.lastSeen.map(escape) ?? "<span class=\"none\">never</span>")</td>"
            out += "<td>\(fetched(node.fetched))</td><td>\(reported(node.reported))</td>"
            let drift =
                node.drift.isEmpty
                ? "<span class=\"none\">none</span>"
                : "<ul>" + node.drift.map { "<li><span class=\"kind\">\(escape($0.kind))</span>: \(escape($0.detail))</li>" }.joined() + "</ul>"
            out += "<td>\(drift)</td></tr>\n"
        }
        out += "</table>\n</body>\n</html>\n"
        return out
    }

    private static func fetched(_ boot: BootLedger.Boot?) -> String {
        guard let boot else { return "<span class=\"none\">nothing since the server started</span>" }
        var out = "<span class=\"meta\">from \(escape(boot.client)) at \(escape(boot.started))</span><ul>"
        for fetch in boot.fetches {
            let what = fetch.plugin.map { "\(escape($0)) \(escape(fetch.version ?? "")) " } ?? ""
            let digest = fetch.sha256.map { " sha256:\(escape(String($0.prefix(12))))…" } ?? ""
            let state = fetch.complete ? "" : " <span class=\"partial\">incomplete (\(escape(fetch.status)))</span>"
            out +=
                "<li>\(what)<code>\(escape(fetch.path))</code> <span class=\"meta\">\(escape(fetch.kind)), \(fetch.bytes) B over \(escape(fetch.proto))\(digest)</span>\(state)</li>"
        }
        return out + "</ul>"
    }

    private static func reported(_ received: ReceivedReport?) -> String {
        guard let received else { return "<span class=\"none\">none</span>" }
        let report = received.report
        var out = "<span class=\"meta\">from \(escape(received.client)) at \(escape(received.time))</span><ul>"
        if let role = report.role { out += "<li>role <code>\(escape(role))</code></li>" }
        if let base = report.base { out += "<li>base \(escape(base))</li>" }
        out += "<li>plugins: \(report.plugins.isEmpty ? "none" : report.plugins.map { escape("\($0.name) \($0.version)") }.joined(separator: ", "))</li>"
        for layer in report.layers {
            out +=
                "<li>layer <code>\(escape(layer.file))</code> \(layer.failure.map { "<span class=\"partial\">failed: \(escape($0))</span>" } ?? escape(layer.type ?? ""))</li>"
        }
        if let uptime = report.uptime { out += "<li>up \(escape(NodeReport.seconds(uptime))) s at report</li>" }
        return out + "</ul>"
    }

    /// Text as HTML character data or a quoted attribute value (see `markupEscaped`).
    static func escape(_ text: String) -> String { markupEscaped(text) }
}

extension FleetStatus {
    /// "3 s", "2 min 5 s", "4 h 12 min", "3 d 2 h". Any value gives one (what another server's status.json says
    /// is not trusted): a negative or not-a-number one is 0 s, a huge one some 31 million years.
    public static func duration(_ seconds: Double) -> String {
        let total = seconds.isNaN ? 0 : Int(min(max(0, seconds), 1e15))
        let (days, hours, minutes, rest) = (total / 86400, total % 86400 / 3600, total % 3600 / 60, total % 60)
        if days > 0 { return "\(days) d \(hours) h" }
        if hours > 0 { return "\(hours) h \(minutes) min" }
        if minutes > 0 { return "\(minutes) min \(rest) s" }
        return "\(rest) s"
    }
}
