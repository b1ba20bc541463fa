{#- Seed step 12: start each prisoner once its files and its jail.conf block are in place. A running prisoner
    whose block changed was already stopped with its old configuration, rewritten and started by its
    jail_conf state (host.sls). #}
{%- from tpldir ~ "/map.jinja" import present with context %}
include:
  - jail.host
  - jail.prisoners
{%- for name in present %}

jailprov-{{ name }}-network:
  jailprov.network:
    - name: {{ name }}
    - require:
      - jailprov: jailprov-{{ name }}-root_password
      - jailprov: jailprov-{{ name }}-jail_conf

jailprov-{{ name }}-running:
  jailprov.running:
    - name: {{ name }}
    - require:
      - jailprov: jailprov-{{ name }}-root_password
      - jailprov: jailprov-{{ name }}-network
      - jailprov: jailprov-{{ name }}-jail_conf
      - jailprov: jailprov-host-rc_conf
{%- endfor %}
