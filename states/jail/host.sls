{#- Seed steps 7 (host pw.conf) and 10 (rc.conf, jail.conf). Rendered only for a valid pillar. #}
{%- from tpldir ~ "/map.jinja" import valid, present with context %}
include:
  - jail.validate
{%- if valid %}

jailprov-host-pw_conf:
  jailprov.host_pw_conf:
    - name: host
    - require:
      - jailprov: jailprov-pillar-valid

jailprov-host-rc_conf:
  jailprov.rc_conf:
    - name: host
    - require:
      - jailprov: jailprov-pillar-valid

jailprov-host-unmanaged:
  jailprov.unmanaged_reported:
    - name: host
    - require:
      - jailprov: jailprov-pillar-valid

{#- one edit (one diff) for the blocks of all new prisoners; then each prisoner's own state #}
jailprov-host-jail_conf:
  jailprov.jail_conf_new:
    - name: host
    - require:
      - jailprov: jailprov-pillar-valid
{%- for name in present %}

{{ ('jailprov-' ~ name ~ '-jail_conf') | json }}:
  jailprov.jail_conf:
    - name: {{ name | json }}
    - require:
      - jailprov: jailprov-host-jail_conf
{%- endfor %}
{%- endif %}
