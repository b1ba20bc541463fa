{#- Seed steps 7 (host pw.conf) and 10 (rc.conf, jail.conf). #}
{%- from tpldir ~ "/map.jinja" import present with context %}
include:
  - jail.validate

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

jailprov-{{ name }}-jail_conf:
  jailprov.jail_conf:
    - name: {{ name }}
    - require:
      - jailprov: jailprov-host-jail_conf
{%- endfor %}
