package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// LabFirewallSystem adds RefreshFirewall to a host's HostFirewallSystem
// (0.24.2: MethodNotFound). As on ESXi, a refresh re-reads the firewall
// configuration files, here those of the VIBs installed on the host
// (etc/vmware/firewall/*.xml): a ruleset not in the firewall yet is added
// with the file's enabled state; a ruleset a VIB brought gets the file's
// rules again (its enabled state is kept, as ESXi keeps it) and goes away
// when no installed VIB's file defines it any more. Rulesets the host had
// otherwise (the model's, -firewall-ruleset) are never changed.
// EnableRuleset and DisableRuleset are 0.24.2's, made safe to call while the
// firewall is being read (see update).
//
// It embeds the simulator's system by value (the property collector wants the
// mo type first); its FirewallInfo is also the host's config.firewall (see
// separateFirewalls), and stays so: a change replaces both (see update).
type LabFirewallSystem struct {
	simulator.HostFirewallSystem

	host     *simulator.HostSystem
	software *hostSoftware
	owned    map[string]bool // ruleset keys loaded from VIB files
}

func wrapFirewall(host *simulator.HostSystem, software *hostSoftware) *LabFirewallSystem {
	if host.ConfigManager.FirewallSystem == nil {
		return nil
	}
	switch current := simulator.Map.Get(*host.ConfigManager.FirewallSystem).(type) {
	case *LabFirewallSystem:
		return current
	case *simulator.HostFirewallSystem:
		fw := &LabFirewallSystem{HostFirewallSystem: *current, host: host, software: software, owned: map[string]bool{}}
		simulator.Map.Put(fw)
		return fw
	}
	return nil
}

func (fw *LabFirewallSystem) RefreshFirewall(*types.RefreshFirewall) soap.HasFault {
	fw.refresh()
	return &methods.RefreshFirewallBody{Res: &types.RefreshFirewallResponse{}}
}

// refresh loads the services of the host's active VIB files; the caller
// holds the firewall system's lock (the SOAP handler takes it).
func (fw *LabFirewallSystem) refresh() {
	services := fw.software.activeServices()
	fw.update(func(rulesets []types.HostFirewallRuleset) []types.HostFirewallRuleset {
		defined := map[string]types.HostFirewallRuleset{}
		var order []string
		for _, service := range services {
			if _, dup := defined[service.Key]; !dup { // the first file defining a service wins
				defined[service.Key] = service
				order = append(order, service.Key)
			}
		}
		present := map[string]bool{}
		var next []types.HostFirewallRuleset
		for _, ruleset := range rulesets {
			present[ruleset.Key] = true
			if fw.owned[ruleset.Key] {
				service, still := defined[ruleset.Key]
				if !still {
					delete(fw.owned, ruleset.Key)
					continue
				}
				ruleset.Rule = service.Rule
				ruleset.Required = service.Required
			}
			next = append(next, ruleset)
		}
		for _, key := range order {
			if !present[key] {
				next = append(next, defined[key])
				fw.owned[key] = true
			}
		}
		return next
	})
}

// update replaces the host's rulesets by change(a copy of them). Responses
// being written hold the firewall info outside any lock, so it is never
// changed in place: a new one replaces it, in the firewall system and in the
// host's config (one pointer each, under the host's lock). 0.24.2's
// EnableRuleset wrote into the rulesets responses may be reading.
func (fw *LabFirewallSystem) update(change func([]types.HostFirewallRuleset) []types.HostFirewallRuleset) {
	simulator.Map.WithLock(fw.host, func() {
		if fw.FirewallInfo == nil {
			return
		}
		info := *fw.FirewallInfo
		info.Ruleset = change(append([]types.HostFirewallRuleset(nil), info.Ruleset...))
		fw.FirewallInfo = &info
		if fw.host.Config != nil {
			fw.host.Config.Firewall = &info
		}
	})
}

// setEnabled enables or disables a ruleset; false if there is none of that key.
func (fw *LabFirewallSystem) setEnabled(key string, enabled bool) bool {
	found := false
	fw.update(func(rulesets []types.HostFirewallRuleset) []types.HostFirewallRuleset {
		for i := range rulesets {
			if rulesets[i].Key == key {
				rulesets[i].Enabled = enabled
				found = true
			}
		}
		return rulesets
	})
	return found
}

func (fw *LabFirewallSystem) EnableRuleset(req *types.EnableRuleset) soap.HasFault {
	body := &methods.EnableRulesetBody{}
	if !fw.setEnabled(req.Id, true) {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	body.Res = &types.EnableRulesetResponse{}
	return body
}

func (fw *LabFirewallSystem) DisableRuleset(req *types.DisableRuleset) soap.HasFault {
	body := &methods.DisableRulesetBody{}
	if !fw.setEnabled(req.Id, false) {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	body.Res = &types.DisableRulesetResponse{}
	return body
}

// The ESXi firewall configuration format:
//
//	<ConfigRoot>
//	  <service id='0000'>
//	    <id>vnc</id>
//	    <rule id='0000'>
//	      <direction>inbound</direction>
//	      <protocol>tcp</protocol>
//	      <porttype>dst</porttype>
//	      <port><begin>5900</begin><end>6105</end></port>   (or <port>5900</port>)
//	    </rule>
//	    <enabled>true</enabled>
//	    <required>false</required>
//	  </service>
//	</ConfigRoot>
type fwConfigRoot struct {
	Services []fwService `xml:"service"`
}

type fwService struct {
	ID       string   `xml:"id"`
	Rules    []fwRule `xml:"rule"`
	Enabled  string   `xml:"enabled"`
	Required string   `xml:"required"`
}

type fwRule struct {
	Direction string  `xml:"direction"`
	Protocol  string  `xml:"protocol"`
	PortType  string  `xml:"porttype"`
	Port      *fwPort `xml:"port"`
}

type fwPort struct {
	Begin *string `xml:"begin"`
	End   *string `xml:"end"`
	Value string  `xml:",chardata"`
}

var serviceID = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// parseFirewallXML reads one firewall file into rulesets.
func parseFirewallXML(data []byte) ([]types.HostFirewallRuleset, error) {
	var root fwConfigRoot
	if err := decodeXML(data, &root); err != nil {
		return nil, err
	}
	var rulesets []types.HostFirewallRuleset
	for _, service := range root.Services {
		id := strings.TrimSpace(service.ID)
		if !serviceID.MatchString(id) {
			return nil, fmt.Errorf("bad service id %q", service.ID)
		}
		enabled, err := parseBool(service.Enabled, false)
		if err != nil {
			return nil, fmt.Errorf("service %s: enabled: %v", id, err)
		}
		required, err := parseBool(service.Required, false)
		if err != nil {
			return nil, fmt.Errorf("service %s: required: %v", id, err)
		}
		if len(service.Rules) == 0 {
			return nil, fmt.Errorf("service %s has no rule", id)
		}
		ruleset := types.HostFirewallRuleset{
			Key:          id,
			Label:        id,
			Required:     required,
			Service:      id,
			Enabled:      enabled,
			AllowedHosts: &types.HostFirewallRulesetIpList{AllIp: true},
		}
		for i, r := range service.Rules {
			rule, err := parseRule(r)
			if err != nil {
				return nil, fmt.Errorf("service %s, rule %d: %v", id, i+1, err)
			}
			ruleset.Rule = append(ruleset.Rule, rule)
		}
		rulesets = append(rulesets, ruleset)
	}
	if len(rulesets) == 0 {
		return nil, fmt.Errorf("no <service> under <ConfigRoot>")
	}
	return rulesets, nil
}

func parseRule(r fwRule) (types.HostFirewallRule, error) {
	rule := types.HostFirewallRule{
		Direction: types.HostFirewallRuleDirection(strings.TrimSpace(r.Direction)),
		PortType:  types.HostFirewallRulePortType(strings.TrimSpace(r.PortType)),
		Protocol:  strings.TrimSpace(r.Protocol),
	}
	switch rule.Direction {
	case types.HostFirewallRuleDirectionInbound, types.HostFirewallRuleDirectionOutbound:
	default:
		return rule, fmt.Errorf("bad direction %q (inbound or outbound)", r.Direction)
	}
	switch rule.PortType {
	case types.HostFirewallRulePortTypeSrc, types.HostFirewallRulePortTypeDst:
	default:
		return rule, fmt.Errorf("bad porttype %q (src or dst)", r.PortType)
	}
	if rule.Protocol != "tcp" && rule.Protocol != "udp" {
		return rule, fmt.Errorf("bad protocol %q (tcp or udp)", r.Protocol)
	}
	if r.Port == nil {
		return rule, fmt.Errorf("no <port>")
	}
	if r.Port.Begin == nil && r.Port.End == nil {
		port, err := parsePort(r.Port.Value)
		if err != nil {
			return rule, err
		}
		rule.Port = port
		return rule, nil
	}
	if r.Port.Begin == nil || r.Port.End == nil {
		return rule, fmt.Errorf("a port range needs <begin> and <end>")
	}
	begin, err := parsePort(*r.Port.Begin)
	if err != nil {
		return rule, err
	}
	end, err := parsePort(*r.Port.End)
	if err != nil {
		return rule, err
	}
	if end < begin {
		return rule, fmt.Errorf("port range %d-%d ends before it begins", begin, end)
	}
	rule.Port = begin
	if end != begin {
		rule.EndPort = end
	}
	return rule, nil
}

func parsePort(text string) (int32, error) {
	port, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil || port < 0 || port > 65535 {
		return 0, fmt.Errorf("bad port %q", strings.TrimSpace(text))
	}
	return int32(port), nil
}
