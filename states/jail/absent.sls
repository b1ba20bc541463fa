{#- Seed step 11: destroy the prisoners the pillar marks absent (jailprov:absent, or absent: true), in
    reverse order, before anything is built (a new prisoner may take over an address or jid). A prisoner
    merely dropped from the pillar is not touched: host.sls reports it as unmanaged.
    init.sls includes this file (state.apply jail); clean.sls, the formula's inverse, is never included. #}
{%- from tpldir ~ "/map.jinja" import absent with context %}
include:
  - jail.validate
{%- for name in absent | reverse %}

{{ ('jailprov-' ~ name ~ '-absent') | json }}:
  jailprov.absent:
    - name: {{ name | json }}
    - require:
      - jailprov: jailprov-pillar-valid
{%- endfor %}
