"""Hostile PMML documents are refused at load, and what they point at never reaches a caller."""

from __future__ import annotations

import pytest

from tidal.models._pmml import PmmlInvalid, PmmlModel

XXE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE PMML [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header description="&secret;"/>
  <DataDictionary><DataField name="x" optype="continuous" dataType="double"/>
    <DataField name="y" optype="categorical" dataType="string"><Value value="&secret;"/></DataField></DataDictionary>
  <TreeModel functionName="classification"><MiningSchema><MiningField name="y" usageType="target"/>
    <MiningField name="x"/></MiningSchema><Node score="&secret;"><True/></Node></TreeModel>
</PMML>
"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE PMML [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header description="&lol9;"/>
  <DataDictionary><DataField name="x" optype="continuous" dataType="double"/></DataDictionary>
</PMML>
"""


UTF16 = XXE.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")


@pytest.mark.parametrize("document", [XXE, LAUGHS, UTF16], ids=["xxe", "billion-laughs", "xxe-utf16"])
def test_a_document_type_declaration_is_refused_before_anything_is_read_or_expanded(document, tmp_path):
    path = tmp_path / "hostile.pmml"
    path.write_bytes(document)
    with pytest.raises(PmmlInvalid) as refused:
        PmmlModel.from_path(path)
    message = str(refused.value)
    assert "DTD" in message  # refused at the declaration, before any entity is defined or expanded
    assert "root:" not in message and "lol" not in message  # neither the file nor the expansion leaks


def test_the_package_wrapper_refuses_the_same_documents(tmp_path):
    from tidal.serving import pmml_package

    path = tmp_path / "hostile.pmml"
    path.write_bytes(XXE)
    with pytest.raises(PmmlInvalid, match="DTD"):
        pmml_package(path)
