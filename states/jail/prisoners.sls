{#- Per prisoner, its steps in order, as the step registry (salt_jail/core/registry.py) declares them and
    jailprov.formula_names hands them over: which steps a prisoner has (a thin prisoner's fstab, the dataset
    and snapshots with jailprov:zfs), and which host states each also requires.  A step's state function is named as its id (jailprov.<id>).
    Each step requires the previous one of the same prisoner, so a failure stops that prisoner's later steps and
    not the other prisoners'.  Step ids are the registry's identifiers, still rendered through
    |json like every name. #}
{%- from tpldir ~ "/map.jinja" import present, steps with context %}
include:
  - jail.validate
  - jail.release
{%- for name in present %}
{%-   for step in steps[name] %}

{{ ('jailprov-' ~ name ~ '-' ~ step.id) | json }}:
  {{ ('jailprov.' ~ step.id) | json }}:
    - name: {{ name | json }}
    - require:
{%-     if loop.first %}
      - jailprov: jailprov-pillar-valid
{%-     else %}
      - jailprov: {{ ('jailprov-' ~ name ~ '-' ~ loop.previtem.id) | json }}
{%-     endif %}
{%-     for required in step.requires %}
      - jailprov: {{ required | json }}
{%-     endfor %}
{%-   endfor %}
{%- endfor %}
