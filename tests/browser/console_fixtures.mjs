// The calls the console test plays besides the two shared fixture calls:
// per screen width, one call of a second caller (made from the first fixture
// call with another name, number, call and conversation id) whose
// transcript carries HTML that must show as text and run nothing.
import fs from 'node:fs';
import path from 'node:path';

export const PRIYA = {
  name: 'Priya Raman',
  phone: '+15125550147',
  userId: 'cust_000184',
  firstCall: 'conv_0801k7b3m9qz2tx5hp4ev6dwc1ry',
};

export const XSS_LINES = [
  '<script>window.__xss=1</script>',
  '<img src=x onerror="window.__xss=2">',
];

export const TOOL_QUERY = 'what CRM does the caller use';

export const SECOND_CALLERS = {
  1280: { first: 'Tomas', last: 'Okafor', phone: '+15125550199', userId: 'cust_console_1280',
    xssCall: 'conv_console_hostile_1280', callSid: 'CAconsole1280000000000000000000001' },
  390: { first: 'Lena', last: 'Fischer', phone: '+15125550188', userId: 'cust_console_390',
    xssCall: 'conv_console_hostile_390', callSid: 'CAconsole0390000000000000000000001' },
};

// Writes one post-call body per second caller into `dir`; returns their paths.
export function makeCalls(fixturesDir, dir) {
  const template = fs.readFileSync(path.join(fixturesDir, 'post_call_transcription.json'), 'utf8');
  const original = JSON.parse(template).data;
  const files = [];
  for (const c of Object.values(SECOND_CALLERS)) {
    const text = template
      .split(original.conversation_id).join(c.xssCall)
      .split(original.metadata.phone_call.call_sid).join(c.callSid)
      .split(original.metadata.phone_call.external_number).join(c.phone)
      .split(original.user_id).join(c.userId)
      .split('Priya Raman').join(`${c.first} ${c.last}`)
      .split('Priya').join(c.first)
      .split('priya').join(c.first.toLowerCase())
      .split('raman').join(c.last.toLowerCase());
    const body = JSON.parse(text);
    const turns = body.data.transcript;
    const user = turns.filter((t) => t.role === 'user');
    user[2].message = `It started after the update. ${XSS_LINES[0]} is what the notes field shows.`;
    user[3].message = `And the export has ${XSS_LINES[1]} in it, every Monday.`;
    // The agent asks the memory tool during this call (the fixture's own
    // tool call is a ticket system's), so the call page has one to show.
    const query = TOOL_QUERY;
    turns.find((t) => Array.isArray(t.tool_calls) && t.tool_calls.length).tool_calls.push({
      type: 'webhook', request_id: `query_user_memory_${c.xssCall}`, tool_name: 'query_user_memory',
      params_as_json: JSON.stringify({ query }), tool_has_been_called: true,
      tool_details: { type: 'webhook', method: 'POST', url: 'https://engram.example/tools/memory-query',
        headers: {}, path_params: {}, query_params: {}, body: JSON.stringify({ query, limit: 3 }) },
    });
    const file = path.join(dir, `${c.xssCall}.json`);
    fs.writeFileSync(file, JSON.stringify(body));
    files.push(file);
  }
  return files;
}
