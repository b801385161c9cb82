package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"log"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// faultInjector makes chosen SOAP methods fail (-fail-method METHOD or
// METHOD:N), so that a client's error handling and cleanup can be tested:
//   - a method whose name ends in _Task answers as vSphere does for a fault
//     during the operation: the call succeeds and returns a Task, on the
//     request's object, that ends in error;
//   - any other method answers with a SOAP fault, encoded as the simulator
//     encodes its own.
//
// The fault is a SystemError whose reason, faultMessage and message (the
// task's localized message, or the SOAP faultstring) read "injected by the
// lab (-fail-method SPEC)". The rest of the request is not executed: nothing
// changes in the inventory or on the datastores.
//
// Calls are counted per method, from 1, as they reach the lab (before the
// session is checked); METHOD:N fails the N-th only, METHOD every one. A
// _Task call on an object that does not exist is counted but left to the
// simulator, which answers ManagedObjectNotFound as vCenter does before any
// task. Injected calls get the -delay and -method-delay of the method.
type faultInjector struct {
	rules       map[string][]failRule // by method name; read-only once parsed
	delay       int
	methodDelay map[string]int

	mu    sync.Mutex
	calls map[string]int
}

// failRule is one -fail-method SPEC.
type failRule struct {
	spec string
	call int // 1-based; 0 for every call
}

// newFaultInjector parses the -fail-method specs; a method vSphere does not
// have, or a call number that is not a positive integer, is an error.
func newFaultInjector(specs []string, delay int, methodDelay map[string]int) (*faultInjector, error) {
	f := &faultInjector{
		rules:       map[string][]failRule{},
		delay:       delay,
		methodDelay: methodDelay,
		calls:       map[string]int{},
	}
	for _, spec := range specs {
		name, number, numbered := strings.Cut(spec, ":")
		if !isMethod(name) {
			return nil, fmt.Errorf("bad -fail-method %q: %q is not a vSphere API method (e.g. PowerOnVM_Task, CreateFolder)",
				spec, name)
		}
		rule := failRule{spec: spec}
		if numbered {
			n, err := strconv.Atoi(number)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad -fail-method %q: expected METHOD or METHOD:N with N a call number from 1", spec)
			}
			rule.call = n
		}
		f.rules[name] = append(f.rules[name], rule)
	}
	return f, nil
}

// isMethod says whether name is a request type of the API (a struct with the
// "This" object every method is called on).
func isMethod(name string) bool {
	kind, ok := types.TypeFunc()(name)
	if !ok || kind.Kind() != reflect.Struct {
		return false
	}
	this, ok := kind.FieldByName("This")
	return ok && this.Type == reflect.TypeOf(types.ManagedObjectReference{})
}

// match counts a call of the method and returns the spec it fails under.
func (f *faultInjector) match(method string) (string, bool) {
	rules, ok := f.rules[method]
	if !ok {
		return "", false
	}
	f.mu.Lock()
	f.calls[method]++
	n := f.calls[method]
	f.mu.Unlock()
	for _, rule := range rules {
		if rule.call == 0 || rule.call == n {
			return rule.spec, true
		}
	}
	return "", false
}

// answer answers the call with an injected fault if a -fail-method asks for
// it; false leaves the call to the simulator.
func (f *faultInjector) answer(w http.ResponseWriter, method *simulator.Method) bool {
	if f == nil {
		return false
	}
	spec, ok := f.match(method.Name)
	if !ok {
		return false
	}
	failure := injectedFault(spec)
	if strings.HasSuffix(method.Name, "_Task") {
		obj := simulator.Map.Get(method.This)
		if obj == nil {
			return false
		}
		f.sleep(method.Name)
		ref := runTask(obj, taskName(method.Name), func() (types.AnyType, *diskError) {
			return nil, failure
		})
		log.Printf("-fail-method %s: %s on %s returns %s, failed", spec, method.Name, method.This, ref)
		writeSOAP(w, http.StatusOK, struct{ Res *taskResponse }{&taskResponse{
			XMLName:   xml.Name{Space: "urn:" + vim25.Namespace, Local: method.Name + "Response"},
			Returnval: ref,
		}})
		return true
	}
	f.sleep(method.Name)
	log.Printf("-fail-method %s: %s on %s fails", spec, method.Name, method.This)
	writeSOAP(w, http.StatusInternalServerError, struct{ Fault *soapFault }{&soapFault{
		Code:   "ServerFaultCode",
		String: failure.message,
		Detail: struct{ Fault *faultDetail }{&faultDetail{Fault: failure.fault}},
	}})
	return true
}

// sleep is the delay the simulator adds to a call of the method.
func (f *faultInjector) sleep(method string) {
	if d := f.delay + f.methodDelay[method]; d > 0 {
		time.Sleep(time.Duration(d) * time.Millisecond)
	}
}

// injectedFault is the fault of a -fail-method SPEC, its text in every field
// a client may show.
func injectedFault(spec string) *diskError {
	message := fmt.Sprintf("injected by the lab (-fail-method %s)", spec)
	fault := &types.SystemError{Reason: message}
	fault.FaultMessage = []types.LocalizableMessage{{Key: "vmwctl.lab.failMethod", Message: message}}
	return &diskError{fault: fault, message: message}
}

// taskName is what CreateTask takes to name a task after its method, as
// vCenter does: "PowerOnVM_Task" becomes info.name PowerOnVM_Task and
// descriptionId <type>.powerOnVM.
func taskName(method string) string {
	name := strings.TrimSuffix(method, "_Task") + "Task"
	return strings.ToLower(name[:1]) + name[1:]
}

// taskResponse is the response of every _Task method: <XResponse> holding the task.
type taskResponse struct {
	XMLName   xml.Name
	Returnval types.ManagedObjectReference `xml:"returnval"`
}

// soapEnvelope, soapFault and faultDetail are copies of the simulator's own
// (simulator.go, unexported), so that a response is encoded as ServeSDK
// encodes it.
type soapEnvelope struct {
	XMLName xml.Name    `xml:"soapenv:Envelope"`
	Enc     string      `xml:"xmlns:soapenc,attr"`
	Env     string      `xml:"xmlns:soapenv,attr"`
	XSD     string      `xml:"xmlns:xsd,attr"`
	XSI     string      `xml:"xmlns:xsi,attr"`
	Body    interface{} `xml:"soapenv:Body"`
}

type faultDetail struct {
	Fault types.AnyType
}

type soapFault struct {
	XMLName xml.Name `xml:"soapenv:Fault"`
	Code    string   `xml:"faultcode"`
	String  string   `xml:"faultstring"`
	Detail  struct {
		Fault *faultDetail
	} `xml:"detail"`
}

// MarshalXML renames the start element from "Fault" to "${Type}Fault".
func (d *faultDetail) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	kind := reflect.TypeOf(d.Fault).Elem().Name()
	start.Name.Local = kind + "Fault"
	start.Attr = append(start.Attr,
		xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: "urn:" + vim25.Namespace},
		xml.Attr{Name: xml.Name{Local: "xsi:type"}, Value: kind})
	return e.EncodeElement(d.Fault, start)
}

// writeSOAP writes a SOAP envelope around body, as ServeSDK does.
func writeSOAP(w http.ResponseWriter, status int, body interface{}) {
	var out bytes.Buffer
	fmt.Fprint(&out, xml.Header)
	e := xml.NewEncoder(&out)
	err := e.Encode(&soapEnvelope{
		Enc:  "http://schemas.xmlsoap.org/soap/encoding/",
		Env:  "http://schemas.xmlsoap.org/soap/envelope/",
		XSD:  "http://www.w3.org/2001/XMLSchema",
		XSI:  "http://www.w3.org/2001/XMLSchema-instance",
		Body: body,
	})
	if err == nil {
		err = e.Flush()
	}
	if err != nil {
		log.Printf("encoding an injected response: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(out.Bytes())
}
