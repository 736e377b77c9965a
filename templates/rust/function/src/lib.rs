/// Answers every call with the request's body (an echo).
pub fn handle(req: String) -> String {
    req
}
