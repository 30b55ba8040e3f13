/// An error meant for the person running overlay. Its description is one line in one shape — what failed, where
/// (the file and line when there is one), then what to do — and it says the exit status the command ends with.
/// Every error a command can end with conforms; `ErrorText` renders the others (Foundation's, the system's) when
/// they are the cause inside one of ours.
public protocol UserError: Error, CustomStringConvertible {
    /// 1 unless the error says otherwise (3: a plan the locked base cannot satisfy).
    var exitStatus: Int32 { get }
}

extension UserError {
    public var exitStatus: Int32 { 1 }
}
