/// "1 node", "2 roles": a count with its noun, in the words the CLI and the server print.
package func counted(_ count: Int, _ noun: String) -> String { count == 1 ? "1 \(noun)" : "\(count) \(noun)s" }
