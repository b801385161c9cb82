package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strconv"
	"strings"
)

// A VIB (vSphere Installation Bundle) is a Unix ar archive: descriptor.xml,
// sig.pkcs7, then the payloads the descriptor names (gzipped tar or vmtar).
// The lab reads it as ESXi's esximage does, as far as installing a VIB that
// brings firewall rulesets needs: the descriptor, the payload sizes and
// checksums, and the files etc/vmware/firewall/*.xml of tgz payloads.
// Signatures (sig.pkcs7) are not verified.

const (
	arMagic        = "!<arch>\n"
	arHeaderSize   = 60
	maxVibSize     = 256 << 20 // bytes read from a VIB file
	maxUnpacked    = 1 << 30   // bytes un-gzipped from one payload
	maxFirewallXML = 1 << 20   // bytes of one firewall file
	firewallDir    = "etc/vmware/firewall"
)

// arMember is one file of an ar archive.
type arMember struct {
	name string
	data []byte
}

// readAr splits an ar archive into its members: plain names (GNU ar ends them
// with "/"), GNU long names ("/N" into the "//" member), BSD long names
// ("#1/N", the name first in the data); symbol tables are skipped.
func readAr(data []byte) ([]arMember, error) {
	if !bytes.HasPrefix(data, []byte(arMagic)) {
		return nil, errors.New("not an ar archive (no !<arch> header)")
	}
	var members []arMember
	var longNames []byte
	pos := len(arMagic)
	for pos < len(data) {
		if len(data)-pos < arHeaderSize {
			return nil, fmt.Errorf("truncated member header at offset %d", pos)
		}
		header := data[pos : pos+arHeaderSize]
		if string(header[58:60]) != "`\n" {
			return nil, fmt.Errorf("bad member header at offset %d", pos)
		}
		size, err := strconv.ParseInt(strings.TrimSpace(string(header[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad member size %q at offset %d", header[48:58], pos)
		}
		pos += arHeaderSize
		if int64(len(data)-pos) < size {
			return nil, fmt.Errorf("member at offset %d is cut short", pos-arHeaderSize)
		}
		body := data[pos : pos+int(size)]
		pos += int(size)
		if size%2 == 1 && pos < len(data) && data[pos] == '\n' {
			pos++
		}
		raw := strings.TrimRight(string(header[0:16]), " ")
		name := strings.TrimSuffix(raw, "/")
		switch {
		case raw == "/" || raw == "/SYM64/" || raw == "__.SYMDEF" || raw == "__.SYMDEF SORTED":
			continue
		case raw == "//":
			longNames = body
			continue
		case strings.HasPrefix(raw, "/") && len(raw) > 1:
			offset, err := strconv.Atoi(raw[1:])
			if err != nil || offset >= len(longNames) {
				return nil, fmt.Errorf("bad long member name %q", raw)
			}
			name = string(longNames[offset:])
			if end := strings.Index(name, "/\n"); end >= 0 {
				name = name[:end]
			} else if end := strings.IndexByte(name, '\n'); end >= 0 {
				name = strings.TrimSuffix(name[:end], "/")
			}
		case strings.HasPrefix(raw, "#1/"):
			n, err := strconv.Atoi(raw[3:])
			if err != nil || n < 0 || n > len(body) {
				return nil, fmt.Errorf("bad long member name %q", raw)
			}
			name = strings.TrimRight(string(body[:n]), "\x00")
			body = body[n:]
		}
		if name == "" {
			return nil, fmt.Errorf("member without a name at offset %d", pos)
		}
		members = append(members, arMember{name: name, data: body})
	}
	return members, nil
}

// vibDescriptor is descriptor.xml: what the lab reads of it.
type vibDescriptor struct {
	XMLName         xml.Name        `xml:"vib"`
	Type            string          `xml:"type"`
	Name            string          `xml:"name"`
	Version         string          `xml:"version"`
	Vendor          string          `xml:"vendor"`
	Summary         string          `xml:"summary"`
	Description     string          `xml:"description"`
	URLs            []vibURL        `xml:"urls>url"`
	Depends         []vibConstraint `xml:"relationships>depends>constraint"`
	Conflicts       []vibConstraint `xml:"relationships>conflicts>constraint"`
	Replaces        []vibConstraint `xml:"relationships>replaces>constraint"`
	Provides        []vibConstraint `xml:"relationships>provides>provide"`
	Tags            []string        `xml:"software-tags>tag"`
	MaintenanceMode *vibMaintenance `xml:"system-requires>maintenance-mode"`
	HwPlatforms     []vibPlatform   `xml:"system-requires>hwplatform"`
	AcceptanceLevel string          `xml:"acceptance-level"`
	LiveInstall     string          `xml:"live-install-allowed"`
	LiveRemove      string          `xml:"live-remove-allowed"`
	StatelessReady  string          `xml:"stateless-ready"`
	Overlay         string          `xml:"overlay"`
	Payloads        []vibPayload    `xml:"payloads>payload"`
}

type vibURL struct {
	Key string `xml:"key,attr"`
	URL string `xml:",chardata"`
}

type vibConstraint struct {
	Name     string `xml:"name,attr"`
	Relation string `xml:"relation,attr"`
	Version  string `xml:"version,attr"`
}

type vibPlatform struct {
	Vendor string `xml:"vendor,attr"`
	Model  string `xml:"model,attr"`
}

// vibMaintenance is <maintenance-mode>true</maintenance-mode>, or with
// install/remove attributes (<maintenance-mode install="false" remove="true">).
type vibMaintenance struct {
	Install string `xml:"install,attr"`
	Remove  string `xml:"remove,attr"`
	Value   string `xml:",chardata"`
}

type vibPayload struct {
	Name      string        `xml:"name,attr"`
	Type      string        `xml:"type,attr"`
	Size      string        `xml:"size,attr"`
	Checksums []vibChecksum `xml:"checksum"`
}

type vibChecksum struct {
	Type          string `xml:"checksum-type,attr"`
	VerifyProcess string `xml:"verify-process,attr"`
	Value         string `xml:",chardata"`
}

// vibLevels are the descriptor's acceptance levels, highest first, and the
// host (HostImageAcceptanceLevel) level each stands for.
var vibLevels = []struct{ vib, host string }{
	{"certified", "vmware_certified"},
	{"accepted", "vmware_accepted"},
	{"partner", "partner"},
	{"community", "community"},
}

// levelRank orders levels, descriptor or host form: certified 0 ... community 3; -1 if unknown.
func levelRank(level string) int {
	for i, l := range vibLevels {
		if level == l.vib || level == l.host {
			return i
		}
	}
	return -1
}

// vibLevel is a level in the descriptor's form (the form ESXi's messages use).
func vibLevel(level string) string {
	if i := levelRank(level); i >= 0 {
		return vibLevels[i].vib
	}
	return level
}

// hostLevel is a level in the API's form (HostImageAcceptanceLevel).
func hostLevel(level string) string {
	if i := levelRank(level); i >= 0 {
		return vibLevels[i].host
	}
	return level
}

// parseBool reads a descriptor boolean; an empty value gives def.
func parseBool(value string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "":
		return def, nil
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", value)
}

// vib is a VIB read from a file and checked against its descriptor.
type vib struct {
	desc        vibDescriptor
	members     map[string][]byte
	liveInstall bool
	liveRemove  bool
	mmInstall   bool
	mmRemove    bool
}

// id is ESXi's VIB id: vendor_type_name_version.
func (v *vib) id() string {
	return fmt.Sprintf("%s_%s_%s_%s", v.desc.Vendor, v.desc.Type, v.desc.Name, v.desc.Version)
}

// requiresMaintenance says whether installing the VIB needs maintenance mode.
func (v *vib) requiresMaintenance() bool {
	return v.mmInstall || !v.liveInstall
}

// parseVib reads the archive and its descriptor; payloads are checked later
// (verifyPayloads), as ESXi checks them while installing.
func parseVib(data []byte) (*vib, error) {
	members, err := readAr(data)
	if err != nil {
		return nil, err
	}
	v := &vib{members: map[string][]byte{}}
	for _, m := range members {
		if _, dup := v.members[m.name]; dup {
			return nil, fmt.Errorf("the archive holds two members named %s", m.name)
		}
		v.members[m.name] = m.data
	}
	descriptor, ok := v.members["descriptor.xml"]
	if !ok {
		return nil, errors.New("the archive has no descriptor.xml")
	}
	if err := decodeXML(descriptor, &v.desc); err != nil {
		return nil, fmt.Errorf("descriptor.xml: %v", err)
	}
	d := &v.desc
	for _, field := range []*string{&d.Type, &d.Name, &d.Version, &d.Vendor, &d.AcceptanceLevel,
		&d.Summary, &d.Description} {
		*field = strings.TrimSpace(*field)
	}
	for _, required := range []struct{ name, value string }{
		{"type", d.Type}, {"name", d.Name}, {"version", d.Version}, {"vendor", d.Vendor},
		{"acceptance-level", d.AcceptanceLevel},
	} {
		if required.value == "" {
			return nil, fmt.Errorf("descriptor.xml: <%s> is missing or empty", required.name)
		}
	}
	if vibLevel(d.AcceptanceLevel) != d.AcceptanceLevel || levelRank(d.AcceptanceLevel) < 0 {
		return nil, fmt.Errorf("descriptor.xml: unknown acceptance-level %q (certified, accepted, partner or community)", d.AcceptanceLevel)
	}
	// esximage's defaults: no live install, maintenance mode required.
	if v.liveInstall, err = parseBool(d.LiveInstall, false); err != nil {
		return nil, fmt.Errorf("descriptor.xml: live-install-allowed: %v", err)
	}
	if v.liveRemove, err = parseBool(d.LiveRemove, false); err != nil {
		return nil, fmt.Errorf("descriptor.xml: live-remove-allowed: %v", err)
	}
	v.mmInstall, v.mmRemove = true, true
	if mm := d.MaintenanceMode; mm != nil {
		value, err := parseBool(mm.Value, true)
		if err != nil {
			return nil, fmt.Errorf("descriptor.xml: maintenance-mode: %v", err)
		}
		if v.mmInstall, err = parseBool(mm.Install, value); err != nil {
			return nil, fmt.Errorf("descriptor.xml: maintenance-mode install: %v", err)
		}
		if v.mmRemove, err = parseBool(mm.Remove, value); err != nil {
			return nil, fmt.Errorf("descriptor.xml: maintenance-mode remove: %v", err)
		}
	}
	seen := map[string]bool{}
	for _, p := range d.Payloads {
		if p.Name == "" || p.Name == "descriptor.xml" || p.Name == "sig.pkcs7" || seen[p.Name] {
			return nil, fmt.Errorf("descriptor.xml: bad or repeated payload name %q", p.Name)
		}
		seen[p.Name] = true
	}
	return v, nil
}

// firewallFile is a firewall configuration file a VIB brings.
type firewallFile struct {
	name string // etc/vmware/firewall/x.xml
	data []byte
}

// verifyPayloads checks every payload's size and checksums as ESXi does and
// returns the firewall files of the tgz payloads.
func (v *vib) verifyPayloads() ([]firewallFile, error) {
	var files []firewallFile
	for _, p := range v.desc.Payloads {
		data, ok := v.members[p.Name]
		if !ok {
			return nil, fmt.Errorf("payload %s is missing from the VIB", p.Name)
		}
		size, err := strconv.ParseInt(strings.TrimSpace(p.Size), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("payload %s has no valid size in descriptor.xml (%q)", p.Name, p.Size)
		}
		if size != int64(len(data)) {
			return nil, fmt.Errorf("payload %s is %d bytes, but descriptor.xml says %d", p.Name, len(data), size)
		}
		if len(p.Checksums) == 0 {
			return nil, fmt.Errorf("payload %s has no checksum in descriptor.xml", p.Name)
		}
		var stored, unpacked []pendingSum
		for _, c := range p.Checksums {
			h, err := newHash(c.Type)
			if err != nil {
				return nil, fmt.Errorf("payload %s: %v", p.Name, err)
			}
			sum := pendingSum{checksum: c, hash: h}
			switch strings.TrimSpace(c.VerifyProcess) {
			case "":
				stored = append(stored, sum)
			case "gunzip":
				unpacked = append(unpacked, sum)
			default:
				return nil, fmt.Errorf("payload %s: unknown checksum verify-process %q", p.Name, c.VerifyProcess)
			}
		}
		for _, sum := range stored {
			sum.hash.Write(data)
		}
		if len(unpacked) > 0 {
			writers := make([]io.Writer, len(unpacked))
			for i, sum := range unpacked {
				writers[i] = sum.hash
			}
			if err := gunzip(data, io.MultiWriter(writers...)); err != nil {
				return nil, fmt.Errorf("payload %s: %v", p.Name, err)
			}
		}
		for _, sum := range append(stored, unpacked...) {
			if err := sum.check(); err != nil {
				return nil, fmt.Errorf("payload %s: %v", p.Name, err)
			}
		}
		if p.Type == "tgz" {
			found, err := firewallFiles(data)
			if err != nil {
				return nil, fmt.Errorf("payload %s: %v", p.Name, err)
			}
			files = append(files, found...)
		}
	}
	return files, nil
}

type pendingSum struct {
	checksum vibChecksum
	hash     hash.Hash
}

func (s pendingSum) check() error {
	got := hex.EncodeToString(s.hash.Sum(nil))
	want := strings.ToLower(strings.TrimSpace(s.checksum.Value))
	if got == want {
		return nil
	}
	what := s.checksum.Type
	if s.checksum.VerifyProcess != "" {
		what += " (" + s.checksum.VerifyProcess + ")"
	}
	return fmt.Errorf("failed to verify the %s checksum: calculated %s, expected %s", what, got, want)
}

func newHash(kind string) (hash.Hash, error) {
	switch strings.TrimSpace(kind) {
	case "sha-1":
		return sha1.New(), nil
	case "sha-256":
		return sha256.New(), nil
	case "sha-512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unknown checksum-type %q", kind)
}

// gunzip writes the un-gzipped data to w, at most maxUnpacked bytes.
func gunzip(data []byte, w io.Writer) error {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not gzip data: %v", err)
	}
	n, err := io.Copy(w, io.LimitReader(zr, maxUnpacked+1))
	if err != nil {
		return fmt.Errorf("un-gzipping: %v", err)
	}
	if n > maxUnpacked {
		return fmt.Errorf("more than %d bytes un-gzipped", int64(maxUnpacked))
	}
	return nil
}

// firewallFiles are the etc/vmware/firewall/*.xml files of a gzipped tar.
func firewallFiles(data []byte) ([]firewallFile, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not gzip data: %v", err)
	}
	tr := tar.NewReader(io.LimitReader(zr, maxUnpacked))
	var files []firewallFile
	for {
		header, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the tar: %v", err)
		}
		name := strings.TrimPrefix(path.Clean("/"+header.Name), "/")
		if header.Typeflag != tar.TypeReg && header.Typeflag != tar.TypeRegA {
			continue
		}
		if path.Dir(name) != firewallDir || !strings.HasSuffix(name, ".xml") {
			continue
		}
		content, err := io.ReadAll(io.LimitReader(tr, maxFirewallXML+1))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %v", name, err)
		}
		if len(content) > maxFirewallXML {
			return nil, fmt.Errorf("%s is larger than %d bytes", name, maxFirewallXML)
		}
		files = append(files, firewallFile{name: name, data: content})
	}
}

// decodeXML unmarshals a document, refusing a DOCTYPE (entity declarations)
// as ESXi's parsers do; Go's decoder expands no external entity anyway.
func decodeXML(data []byte, v interface{}) error {
	decoder := xml.NewDecoder(bytes.NewReader(data))
	for {
		token, err := decoder.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if directive, ok := token.(xml.Directive); ok {
			if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(string(directive))), "DOCTYPE") {
				return errors.New("a DOCTYPE is not allowed")
			}
		}
	}
	return xml.Unmarshal(data, v)
}
