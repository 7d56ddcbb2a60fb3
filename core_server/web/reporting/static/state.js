// The report open in the editor, shared by the editor's modules. What the user may do with it
// comes from the server (report.allowed_actions): the page shows those buttons, no rule here.
export const editor = {
  examId: null,
  exam: null,
  row: null,
  report: null,
  template: null, // the structured template whose fields the form shows
  templateChanged: false,
  editable: false,
  takeOver: false, // the doctor chose to take another doctor's draft over
  dirty: false,
  saving: null, // the autosave in flight
  reopen: async () => {}, // open the exam again (after a step, a lock change)
  onChange: () => {}, // the worklist refreshes after a step
};

// Whether the server allows `action` on the open report for this user.
export function can(action) {
  return Boolean(editor.report && (editor.report.allowed_actions || []).includes(action));
}
