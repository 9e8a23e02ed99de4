/// `resource.Quantity` values (`100m`, `1.5Gi`, `2e3`), read as numbers to compare and add them.
enum Quantity {
    /// The value of `text`, or `nil` if it is not a quantity.
    static func value(_ text: String) -> Double? {
        let scalars = Array(text.utf8)
        var end = 0
        // The number: optional sign, digits, optional fraction.
        if end < scalars.count, scalars[end] == UInt8(ascii: "+") || scalars[end] == UInt8(ascii: "-") { end += 1 }
        let digitsStart = end
        while end < scalars.count, (scalars[end] >= 48 && scalars[end] <= 57) || scalars[end] == UInt8(ascii: ".") { end += 1 }
        guard end > digitsStart, let number = Double(String(decoding: scalars[0..<end], as: UTF8.self)) else { return nil }
        let suffix = String(decoding: scalars[end...], as: UTF8.self)
        let multiplier: Double
        switch suffix {
        case "": multiplier = 1
        case "n": multiplier = 1e-9
        case "u": multiplier = 1e-6
        case "m": multiplier = 1e-3
        case "k": multiplier = 1e3
        case "M": multiplier = 1e6
        case "G": multiplier = 1e9
        case "T": multiplier = 1e12
        case "P": multiplier = 1e15
        case "E": multiplier = 1e18
        case "Ki": multiplier = 1024
        case "Mi": multiplier = 1_048_576
        case "Gi": multiplier = 1_073_741_824
        case "Ti": multiplier = 1_099_511_627_776
        case "Pi": multiplier = 1_125_899_906_842_624
        case "Ei": multiplier = 1_152_921_504_606_846_976
        default:
            // A decimal exponent: `2e3`, `1E-3`.
            guard let first = suffix.first, first == "e" || first == "E", let exponent = Int(suffix.dropFirst()),
                  (-400...400).contains(exponent) else { return nil }
            var m = 1.0
            for _ in 0..<abs(exponent) { m *= 10 }
            multiplier = exponent < 0 ? 1 / m : m
        }
        return number * multiplier
    }
}
