import Fleet
import Formats
import Foundation
import Posix

/// Why the lab could not run: a missing tool, a server or a machine that did not start, input it cannot use.
enum LabError: UserError {
    case missingTool(String)
    case cannotStart(String, String)
    case input(String)

    var description: String {
        switch self {
        case .missingTool(let what): "lab: \(what)"
        case .cannotStart(let what, let why): "lab: \(what) did not start: \(why)"
        case .input(let what): "lab: \(what)"
        }
    }
}

/// What a lab boot found: the node's report against what its role should give it.
struct LabVerdict: Encodable {
    var mac: String
    var role: String
    var firmware: String
    var accelerator: String
    var expected: [String]
    var reported: [String]?
    var base: String?
    var layers: [String]
    /// From QEMU's start to `OVERLAY-NODE READY`.
    var secondsToReady: Double?
    /// The node's own uptime at the end of its report.
    var nodeUptime: Double?
    var bytesFetched: Int
    var requests: Int
    var problems: [String]
    var pass: Bool { problems.isEmpty }

    enum CodingKeys: String, CodingKey {
        case mac, role, firmware, accelerator, expected, reported, base, layers, secondsToReady, nodeUptime, bytesFetched, requests, problems, pass
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(mac, forKey: .mac)
        try container.encode(role, forKey: .role)
        try container.encode(firmware, forKey: .firmware)
        try container.encode(accelerator, forKey: .accelerator)
        try container.encode(expected, forKey: .expected)
        try container.encodeIfPresent(reported, forKey: .reported)
        try container.encodeIfPresent(base, forKey: .base)
        try container.encode(layers, forKey: .layers)
        try container.encodeIfPresent(secondsToReady, forKey: .secondsToReady)
        try container.encodeIfPresent(nodeUptime, forKey: .nodeUptime)
        try container.encode(bytesFetched, forKey: .bytesFetched)
        try container.encode(requests, forKey: .requests)
        try container.encode(problems, forKey: .problems)
        try container.encode(pass, forKey: .pass)
    }

    init(
        machine: LabMachine, role: String, expected: [NodeReport.Plugin], outcome: LabMachine.Outcome, fetches: [LabServer.Fetch],
        timeout: Int
    ) {
        mac = machine.mac.description
        self.role = role
        firmware = machine.firmware.rawValue
        accelerator = outcome.kvm ? "KVM" : "TCG"
        self.expected = expected.sorted().map(\.description)
        let served = fetches.filter { ["200", "206", "ok"].contains($0.status) }
        bytesFetched = served.reduce(0) { $0 + $1.bytes }
        requests = served.count
        secondsToReady = outcome.secondsToReady
        var problems: [String] = []
        switch outcome.end {
        case .poweredOff, .stoppedAfterReady: break
        case .timedOut, .kvmStalled: problems.append("the node did not finish booting within \(timeout) s")
        case .panicked: problems.append("the node's kernel panicked")
        case .failed(let status): problems.append("QEMU exited with status \(status)")
        }
        let report = outcome.report
        reported = report.map { $0.plugins.map(\.description) }
        base = report?.base
        layers = report?.layers.map { layer in layer.failure.map { "\(layer.file) failed: \($0)" } ?? "\(layer.file) \(layer.type ?? "")" } ?? []
        nodeUptime = report?.uptime
        if let report {
            if let reportedRole = report.role, reportedRole != role { problems.append("the node booted as role \(reportedRole), not \(role)") }
            var compared = report
            compared.expected = expected
            if let difference = compared.difference { problems.append("the node's plugins differ from the role's: \(difference)") }
            for layer in report.layers where layer.failure != nil {
                problems.append("layer \(layer.file) did not mount: \(layer.failure ?? "")")
            }
            if let mismatch = report.mismatch, compared.difference == nil { problems.append("the node says: \(mismatch)") }
        } else if outcome.end != .panicked {
            problems.append("the node printed no report (no \"\(NodeReport.readyLine)\" on its console)")
        }
        self.problems = problems
    }

    /// `lab boot`'s lines.
    var text: String {
        var lines = ["lab boot: role \(role) on \(mac) (\(firmware), \(accelerator)): \(pass ? "pass" : "FAIL")"]
        lines.append("  expected   " + (expected.isEmpty ? "no plugins" : expected.joined(separator: ", ")))
        lines.append("  reported   " + (reported.map { $0.isEmpty ? "no plugins" : $0.joined(separator: ", ") } ?? "nothing"))
        if let base { lines.append("  base       \(base)") }
        for layer in layers { lines.append("  layer      \(layer)") }
        if let secondsToReady {
            lines.append(
                "  ready      after \(String(format: "%.1f", secondsToReady)) s"
                    + (nodeUptime.map { " (the node's kernel: \(String(format: "%.2f", $0)) s)" } ?? ""))
        }
        lines.append("  fetched    \(humanSize(Int64(bytesFetched))) in \(counted(requests, "request"))")
        for problem in problems { lines.append("  problem    \(problem)") }
        return lines.map { $0 + "\n" }.joined()
    }
}
