{#- Seed step 12: start each prisoner once its files and its jail.conf block are in place. A running prisoner
    whose block changed was already stopped with its old configuration, rewritten and started by its
    jail_conf state (host.sls). #}
{%- from tpldir ~ "/map.jinja" import present with context %}
include:
  - jail.host
  - jail.prisoners
{%- for name in present %}

{{ ('jailprov-' ~ name ~ '-network') | json }}:
  jailprov.network:
    - name: {{ name | json }}
    - require:
      - jailprov: {{ ('jailprov-' ~ name ~ '-root_password') | json }}
      - jailprov: {{ ('jailprov-' ~ name ~ '-jail_conf') | json }}

{{ ('jailprov-' ~ name ~ '-running') | json }}:
  jailprov.running:
    - name: {{ name | json }}
    - require:
      - jailprov: {{ ('jailprov-' ~ name ~ '-root_password') | json }}
      - jailprov: {{ ('jailprov-' ~ name ~ '-network') | json }}
      - jailprov: {{ ('jailprov-' ~ name ~ '-jail_conf') | json }}
      - jailprov: jailprov-host-rc_conf
{%- endfor %}
