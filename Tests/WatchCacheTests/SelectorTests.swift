import Testing
@testable import WatchCache

@Suite struct LabelSelectorTests {
    let labels = ["app": "web", "tier": "front", "version": "3", "example.com/team": "core"]

    @Test(arguments: [
        ("", true), ("app=web", true), ("app==web", true), ("app!=web", false), ("app!=db", true),
        ("missing!=x", true), ("app in (web,db)", true), ("app in (db)", false), ("app notin (db)", true),
        ("app notin (web)", false), ("missing notin (x)", true), ("app", true), ("missing", false),
        ("!missing", true), ("!app", false), ("app=web,tier=front", true), ("app=web,tier=back", false),
        ("version>2", true), ("version<3", false), ("missing>1", false), ("example.com/team=core", true),
        ("app in (web, db) , tier", true), ("tier=", false), ("app in (web,)", true),
    ])
    func matching(selector: String, expected: Bool) throws {
        #expect(try LabelSelector(parsing: selector).matches(labels) == expected)
    }

    @Test func emptyValueMatchesEmptyLabel() throws {
        #expect(try LabelSelector(parsing: "a=").matches(["a": ""]))
        #expect(try !LabelSelector(parsing: "a=").matches(["a": "x"]))
    }

    @Test(arguments: [
        ("app=web,", "unable to parse requirement: found '', expected: identifier after ','"),
        ("app web", "unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt"),
        ("=web", "unable to parse requirement: found '=', expected: identifier"),
        ("app in web", "unable to parse requirement: found 'web' expected: '('"),
        ("app in (a b)", "unable to parse requirement: found 'b', expected: ',', ')' or identifier"),
        ("app in ()", "unable to parse requirement: values: Invalid value: \"\": for 'in', 'notin' operators, values set can't be empty"),
        ("app=web)", "unable to parse requirement: found ')', expected: ',' or 'end of string'"),
        ("version>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"),
        ("-app=web", "unable to parse requirement: key: Invalid value: \"-app\": \(LabelSelectorParser.nameMessage)"),
        ("app=-web", "unable to parse requirement: values[0]: Invalid value: \"-web\": \(LabelSelectorParser.valueMessage)"),
        ("Example.com/a=b", "unable to parse requirement: key: Invalid value: \"Example.com/a\": \(LabelSelectorParser.prefixMessage)"),
    ])
    func syntaxErrorsAre400WithTheProblem(selector: String, message: String) {
        do {
            _ = try LabelSelector(parsing: selector)
            Issue.record("\(selector) parsed")
        } catch {
            #expect(error.code == 400)
            #expect(error.reason == .badRequest)
            #expect(error.message == message)
        }
    }

    @Test func tooLongNamesAreRefused() {
        let long = String(repeating: "a", count: 64)
        #expect(throws: Status.self) { try LabelSelector(parsing: "\(long)=x") }
        #expect(throws: Status.self) { try LabelSelector(parsing: "a=\(long)") }
        #expect(throws: Never.self) { try LabelSelector(parsing: "\(String(long.dropFirst()))=\(String(long.dropFirst()))") }
    }
}

@Suite struct FieldSelectorTests {
    func pod(node: String, phase: String = "Running", name: String = "p", namespace: String = "ns") throws -> KubeObject {
        try KubeObject(json: Fixture.podJSON(name, namespace: namespace, node: node, phase: phase), resource: .pods)
    }

    @Test func equalityAndInequality() throws {
        let p = try pod(node: "n1")
        #expect(try FieldSelector(parsing: "spec.nodeName=n1", for: .pods).matches(p))
        #expect(try FieldSelector(parsing: "spec.nodeName==n1", for: .pods).matches(p))
        #expect(try !FieldSelector(parsing: "spec.nodeName!=n1", for: .pods).matches(p))
        #expect(try FieldSelector(parsing: "spec.nodeName=n1,status.phase=Running,metadata.namespace=ns,metadata.name=p", for: .pods).matches(p))
        #expect(try !FieldSelector(parsing: "spec.nodeName=n1,status.phase!=Running", for: .pods).matches(p))
    }

    @Test func absentFieldIsTheEmptyString() throws {
        let unscheduled = try pod(node: "")
        #expect(try FieldSelector(parsing: "spec.nodeName=", for: .pods).matches(unscheduled))
        #expect(try FieldSelector(parsing: "spec.schedulerName=", for: .pods).matches(unscheduled))
    }

    @Test func escapedValues() throws {
        let p = try pod(node: "a,b=c\\d")
        #expect(try FieldSelector(parsing: #"spec.nodeName=a\,b\=c\\d"#, for: .pods).matches(p))
    }

    @Test func exactValueForIndexing() throws {
        let s = try FieldSelector(parsing: "spec.nodeName=n7,status.phase!=Failed", for: .pods)
        #expect(s.exactValue(for: "spec.nodeName") == "n7")
        #expect(s.exactValue(for: "status.phase") == nil)
    }

    @Test(arguments: [
        ("spec.nodeName", "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'"),
        ("spec.foo=bar", "field label not supported: spec.foo"),
        (#"spec.nodeName=a\x"#, #"invalid field selector: invalid escape sequence: \x"#),
    ])
    func errorsAre400(selector: String, message: String) {
        do {
            _ = try FieldSelector(parsing: selector, for: .pods)
            Issue.record("\(selector) parsed")
        } catch {
            #expect(error.code == 400)
            #expect(error.message == message)
        }
    }

    @Test func configuredFieldsAreSelectable() throws {
        let widgets = ResourceDescriptor(group: "example.com", plural: "widgets", kind: "Widget", selectableFields: ["spec.color"])
        let w = try KubeObject(json: JSONObject(parsing: #"{"metadata":{"name":"w"},"spec":{"color":"red"}}"#), resource: widgets)
        #expect(try FieldSelector(parsing: "spec.color=red", for: widgets).matches(w))
        #expect(throws: Status.self) { try FieldSelector(parsing: "spec.nodeName=x", for: widgets) }
    }
}
