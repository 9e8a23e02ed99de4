/// `metav1.Time`, `metav1.MicroTime` and `metav1.Duration` between their protobuf form (seconds and
/// nanoseconds) and their JSON text.
enum KubeTime {
    /// RFC 3339 in UTC: `2026-11-30T22:52:24Z`, or with microseconds (`.123456Z`) for MicroTime.
    static func format(seconds: Int64, nanos: Int32, micro: Bool) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        if micro { text += "." + pad(Int64(nanos / 1000), 6) }
        return text + "Z"
    }

    /// Seconds and nanoseconds of an RFC 3339 time (`Z` or a numeric offset, optional fraction).
    static func parse(_ text: String) -> (seconds: Int64, nanos: Int32)? {
        let b = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= b.count else { return nil }
            var v: Int64 = 0
            for i in range {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let year = digits(0..<4), let month = digits(5..<7), let day = digits(8..<10),
              let hour = digits(11..<13), let minute = digits(14..<16), let second = digits(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var i = 19
        var nanos: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale: Int64 = 100_000_000
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                nanos += Int64(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        guard i < b.count else { return nil }
        var offset: Int64 = 0
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard let oh = digits(i + 1..<i + 3), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"), let om = digits(i + 4..<i + 6) else { return nil }
            offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        return (days * 86_400 + hour * 3600 + minute * 60 + second - offset, Int32(nanos))
    }

    /// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
    static func formatDuration(nanoseconds: Int64) -> String {
        if nanoseconds == 0 { return "0s" }
        let negative = nanoseconds < 0
        let u = nanoseconds.magnitude
        var text: String
        if u < 1_000_000_000 {
            // Under a second: the largest unit of ns, µs, ms with a fraction.
            let (unit, scale): (String, UInt64) = u < 1000 ? ("ns", 1) : u < 1_000_000 ? ("µs", 1000) : ("ms", 1_000_000)
            text = fraction(u, scale) + unit
        } else {
            let seconds = u / 1_000_000_000
            let rest = u % 1_000_000_000
            var s = fraction(seconds % 60 * 1_000_000_000 + rest, 1_000_000_000) + "s"
            let minutes = seconds / 60
            if minutes > 0 {
                s = "\(minutes % 60)m" + s
                if minutes >= 60 { s = "\(minutes / 60)h" + s }
            }
            text = s
        }
        return negative ? "-" + text : text
    }

    /// Nanoseconds in a Go duration string (`1m30s`, `250ms`, `1.5h`).
    static func parseDuration(_ text: String) -> Int64? {
        var s = Substring(text)
        var negative = false
        if s.first == "-" || s.first == "+" {
            negative = s.first == "-"
            s = s.dropFirst()
        }
        if s == "0" { return 0 }
        guard !s.isEmpty else { return nil }
        var total: Double = 0
        while !s.isEmpty {
            let number = s.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            s = s.dropFirst(number.count)
            let unit = s.prefix { !($0.isNumber || $0 == ".") }
            s = s.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            total += value * scale
        }
        guard total < 9.2e18 else { return nil }
        return Int64(negative ? -total : total)
    }

    private static func fraction(_ value: UInt64, _ scale: UInt64) -> String {
        let whole = value / scale
        var rest = value % scale
        guard rest > 0 else { return "\(whole)" }
        var digits = ""
        var s = scale / 10
        while rest > 0 && s > 0 {
            digits.append(Character(String(rest / s)))
            rest %= s
            s /= 10
        }
        return "\(whole).\(digits)"
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    // Days from 1970-01-01 to a proleptic Gregorian date and back (Howard Hinnant's algorithms).
    private static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civilDate(daysSinceEpoch days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
