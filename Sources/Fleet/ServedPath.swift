import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Paths a fleet hands to boot loaders: relative to the served directory, written into iPXE scripts, PXELINUX and
/// GRUB configs unquoted, and fetched through a server that refuses `..` and symbolic links.
enum ServedPath {
    /// Letters, digits and `. _ - + ~ @`: nothing a URI, a PXELINUX line or a GRUB word would read differently.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".."
            && name.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "._-+~@".unicodeScalars.contains(scalar))
            }
    }

    /// Why `path` cannot be served as written, or nil when it can (the file itself is checked by `problem(with:in:)`).
    static func syntaxProblem(_ path: String) -> String? {
        if path.isEmpty { return "the path is empty" }
        if path.hasPrefix("/") { return "\(path) is absolute" }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        for component in components {
            if component.isEmpty { return "\(path) has an empty path component" }
            if component == "." || component == ".." { return "\(path) contains \"\(component)\"" }
            if !isPlainName(String(component)) { return "\(path) contains characters other than letters, digits and . _ - + ~ @" }
        }
        return nil
    }

    /// Checks that `path` names a regular file inside `directory`, reached without symbolic links (the server
    /// refuses to follow them). Returns a reason when it does not.
    static func problem(with path: String, in directory: FilePath) -> String? {
        if let problem = syntaxProblem(path) { return problem }
        var current = directory
        let components = path.split(separator: "/").map(String.init)
        for (index, component) in components.enumerated() {
            current = current.appending(component)
            var status = stat()
            let result = current.withPlatformString { lstat($0, &status) }
            if result != 0 { return "\(path) does not exist" }
            let type = status.st_mode & S_IFMT
            if type == S_IFLNK { return "\(current) is a symbolic link, which the server does not follow" }
            let last = index == components.count - 1
            if last && type != S_IFREG { return "\(path) is not a regular file" }
            if !last && type != S_IFDIR { return "\(current) is not a directory" }
        }
        return nil
    }
}
